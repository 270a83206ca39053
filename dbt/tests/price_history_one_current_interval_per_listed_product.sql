-- A product in the current catalog has exactly one open price interval; a deleted one has none.
with open_intervals as (
    select source, source_id, count(*) as open_count
    from {{ ref('price_history') }}
    where is_current
    group by source, source_id
)

select
    coalesce(current_products.source, open_intervals.source) as source,
    coalesce(current_products.source_id, open_intervals.source_id) as source_id,
    open_intervals.open_count
from {{ ref('products_current') }} as current_products
full outer join open_intervals
    on open_intervals.source = current_products.source
    and open_intervals.source_id = current_products.source_id
where open_intervals.open_count is null
    or open_intervals.open_count <> 1
    or current_products.source_id is null
