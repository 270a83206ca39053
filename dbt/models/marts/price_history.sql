-- SCD2 price intervals per (source, source_id): one row per stretch of time during which the
-- price, list price and currency held. Rows that changed something else (a title, the stock)
-- extend the current interval; a deletion closes it, and a product that comes back opens a
-- new one. valid_to is exclusive and null for the interval still open.
with changes as (
    select
        source,
        source_id,
        price_amount,
        list_price_amount,
        currency,
        change_type,
        fetched_at,
        run_id,
        lag(price_amount) over by_time as previous_price,
        lag(list_price_amount) over by_time as previous_list_price,
        lag(currency) over by_time as previous_currency,
        lag(change_type) over by_time as previous_change_type,
        lead(fetched_at) over by_time as next_fetched_at,
        row_number() over by_time as position
    from {{ ref('stg_products_changes') }}
    window by_time as (partition by source, source_id order by fetched_at, run_id)
),

starts as (
    select
        *,
        case
            when change_type = 'deleted' then 0
            when position = 1 or previous_change_type = 'deleted' then 1
            when price_amount is distinct from previous_price
                or list_price_amount is distinct from previous_list_price
                or currency is distinct from previous_currency then 1
            else 0
        end as starts_interval
    from changes
),

numbered as (
    select
        *,
        sum(starts_interval) over (
            partition by source, source_id order by fetched_at, run_id
            rows between unbounded preceding and current row
        ) as interval_number
    from starts
),

kept as (
    -- A deletion only closes the interval before it (its fetched_at is that row's next one).
    select * from numbered where change_type <> 'deleted'
)

select
    source,
    source_id,
    cast(interval_number as integer) as version,
    max(price_amount) as price_amount,
    max(list_price_amount) as list_price_amount,
    max(currency) as currency,
    min(fetched_at) as valid_from,
    -- next_fetched_at grows along the rows and is null only on a product's very last row.
    case when count(next_fetched_at) = count(*) then max(next_fetched_at) end as valid_to,
    count(next_fetched_at) < count(*) as is_current,
    count(*) as rows_in_interval,
    min(run_id) as opened_by_run
from kept
group by source, source_id, interval_number
