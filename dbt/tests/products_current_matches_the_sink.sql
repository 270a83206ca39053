{{ config(enabled=target.type == 'postgres') }}
-- Target postgres only: the model's current catalog, derived from the change log, equals the
-- sink's products_current, which the sink upserts run by run (pipelines/run/postgres_load.py):
-- the same products in the same versions, every canonical column equal.
with model_rows as (
    select {{ canonical_columns() }} from {{ ref('products_current') }}
),

sink_rows as (
    select {{ canonical_columns() }} from {{ source('sink', 'products_current') }}
),

only_in_model as (
    select * from model_rows
    except
    select * from sink_rows
),

only_in_sink as (
    select * from sink_rows
    except
    select * from model_rows
)

select 'only in the model' as found, source, source_id, run_id from only_in_model
union all
select 'only in the sink' as found, source, source_id, run_id from only_in_sink
