{{ config(enabled=orders_enabled()) }}
-- Revenue per product, UTC day and currency (docs/dbt.md). The latest version of each order
-- line counts on the day its order was placed (created_at, in UTC), joined to the current
-- catalog on source and variant id (order_lines.variant_id = products.source_id:
-- docs/orders.md), the catalog source being the one seeds/catalog_sources.csv names for the
-- order source (amazon_sp lines carry ASINs: they join the amazon provider's products). Revenue is the line totals (after line discounts) minus refunds; a line's
-- refund is its total pro rata of the units refunded or removed since (refunded_quantity /
-- quantity, four decimals), since the order's refunded_amount also holds shipping and tax.
-- Amounts are never converted: one row per currency. A product no longer in the catalog
-- (deleted, or not pulled) keeps its revenue, with a null title.
with lines as (
    select
        source, source_id, order_id, variant_id, quantity, currency, line_total_amount,
        refunded_quantity,
        row_number() over (
            partition by source, source_id order by fetched_at desc, run_id desc
        ) as recency
    from {{ ref('stg_order_lines_changes') }}
),

orders as (
    select
        source, source_id, created_at,
        row_number() over (
            partition by source, source_id order by fetched_at desc, run_id desc
        ) as recency
    from {{ ref('stg_orders_changes') }}
),

priced as (
    select
        cast(orders.created_at at time zone 'UTC' as date) as order_day,
        lines.source,
        coalesce(catalogs.catalog_source, lines.source) as catalog_source,
        lines.variant_id,
        lines.currency,
        lines.order_id,
        lines.quantity,
        coalesce(lines.refunded_quantity, 0) as refunded_quantity,
        coalesce(lines.line_total_amount, 0) as line_total_amount,
        coalesce(cast(
            lines.line_total_amount * coalesce(lines.refunded_quantity, 0)
            / nullif(lines.quantity, 0) as decimal(18, 4)
        ), 0) as refunded_amount
    from lines
    inner join orders
        on orders.source = lines.source and orders.source_id = lines.order_id
    left join {{ ref('catalog_sources') }} as catalogs
        on catalogs.order_source = lines.source
    where lines.recency = 1 and orders.recency = 1 and orders.created_at is not null
)

select
    priced.order_day,
    priced.source,
    priced.catalog_source,
    priced.variant_id as product_source_id,
    products.source_parent_id as product_parent_id,
    products.title,
    priced.currency,
    count(distinct priced.order_id) as orders,
    sum(priced.quantity) as units_ordered,
    sum(priced.quantity - priced.refunded_quantity) as units_kept,
    sum(priced.line_total_amount) as gross_revenue,
    sum(priced.refunded_amount) as refunded_revenue,
    sum(priced.line_total_amount - priced.refunded_amount) as revenue
from priced
left join {{ ref('products_current') }} as products
    on products.source = priced.catalog_source and products.source_id = priced.variant_id
group by
    priced.order_day, priced.source, priced.catalog_source, priced.variant_id,
    products.source_parent_id, products.title, priced.currency
