{{ config(enabled=orders_enabled()) }}
-- The orders' change log: every new and changed order row, canonical columns only
-- (docs/orders.md).
select {{ canonical_columns(columns='order_columns') }}
from {{ changes_relation('orders') }} as changes
