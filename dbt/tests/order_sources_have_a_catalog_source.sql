{{ config(enabled=orders_enabled()) }}
-- Every source of an order line names the catalog its lines join (seeds/catalog_sources.csv):
-- a new order source without a row would silently lose its product titles in
-- revenue_by_product_day.
select distinct lines.source
from {{ ref('stg_order_lines_changes') }} as lines
where lines.source not in (select order_source from {{ ref('catalog_sources') }})
