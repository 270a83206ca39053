{{ config(enabled=orders_enabled()) }}
-- The order lines' change log: every new and changed line row, canonical columns only
-- (docs/orders.md).
select {{ canonical_columns(columns='order_line_columns') }}
from {{ changes_relation('order_lines') }} as changes
