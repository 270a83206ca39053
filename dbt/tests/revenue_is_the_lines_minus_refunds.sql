{{ config(enabled=orders_enabled()) }}
-- revenue_by_product_day adds up: each row's revenue is its gross less its refunds, refunds are
-- never negative nor more than the gross, and every currency's revenue equals that of the
-- latest version of every line of an order with a placement time (none lost, none counted
-- twice by the join to the catalog).
with latest_lines as (
    select
        lines.currency,
        coalesce(lines.line_total_amount, 0) as line_total_amount,
        row_number() over (
            partition by lines.source, lines.source_id
            order by lines.fetched_at desc, lines.run_id desc
        ) as recency
    from {{ ref('stg_order_lines_changes') }} as lines
    where exists (
        select 1 from {{ ref('stg_orders_changes') }} as orders
        where orders.source = lines.source and orders.source_id = lines.order_id
            and orders.created_at is not null
    )
),

per_currency as (
    select currency, sum(line_total_amount) as gross
    from latest_lines
    where recency = 1
    group by currency
),

modelled as (
    select currency, sum(gross_revenue) as gross
    from {{ ref('revenue_by_product_day') }}
    group by currency
)

select 'row does not add up' as problem, currency
from {{ ref('revenue_by_product_day') }}
where revenue <> gross_revenue - refunded_revenue
    or refunded_revenue < 0
    or (gross_revenue >= 0 and refunded_revenue > gross_revenue)
union all
select 'gross differs from the lines' as problem, coalesce(m.currency, l.currency) as currency
from modelled as m
full outer join per_currency as l on l.currency = m.currency
where m.gross is null or l.gross is null or m.gross <> l.gross
