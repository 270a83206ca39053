-- Each product's price intervals follow one another: each ends (valid_to) after it starts, no
-- later interval starts before the one before it ends, and only the last may be open.
with ordered as (
    select
        source,
        source_id,
        version,
        valid_from,
        valid_to,
        is_current,
        lead(valid_from) over (
            partition by source, source_id order by valid_from
        ) as next_valid_from
    from {{ ref('price_history') }}
)

select *
from ordered
where (valid_to is not null and valid_to <= valid_from)
    or (next_valid_from is not null and (valid_to is null or next_valid_from < valid_to))
    or (is_current <> (valid_to is null))
