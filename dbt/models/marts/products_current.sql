-- The current catalog: the latest row of each (source, source_id), products whose latest row
-- is a deletion left out. Ties on fetched_at are broken by the run id (later runs sort later).
with ranked as (
    select
        {{ canonical_columns() }},
        row_number() over (
            partition by source, source_id order by fetched_at desc, run_id desc
        ) as recency
    from {{ ref('stg_products_changes') }}
)

select {{ canonical_columns() }}
from ranked
where recency = 1 and change_type <> 'deleted'
