{#- A lake table's change log as a relation, per target (docs/dbt.md). `table` is `products`
(the lake's root) or `orders` / `order_lines` (the orders dataset, each a lake of its own in the
folder of its name: docs/lake.md).

duckdb: the Parquet parts of the table's `normalized/` that a manifest of its `_manifests/`
names, and only those. The glob lists every part in place; the join on `_manifests/*.json`
drops any file no manifest claims (a run killed between moving its files and writing its
manifest, until the next commit moves them to `_trash/`), or a run between its renames and its
manifest. Files still being written are never in the glob: a run stages them in its work
folder `_runs/<run_id>/` until the commit renames them into place. `dt` and `source` come from
the folder names (hive partitioning); `union_by_name` gives parts written at schema version 1
a null `gtin14`.

postgres: the sink's `<table>_changes` table, which holds the same columns. -#}
{% macro changes_relation(table) %}
  {%- if target.type == 'duckdb' -%}
    {%- set folder = '' if table == 'products' else table ~ '/' -%}
    {%- set lake = (var('lake') ~ '/' ~ folder) | replace("'", "''") -%}
    (
      select parts.*
      from read_parquet(
        '{{ lake }}normalized/*/*/*.parquet',
        hive_partitioning = true,
        hive_types = {'dt': 'VARCHAR'},
        union_by_name = true,
        filename = true
      ) as parts
      where regexp_extract(parts.filename, 'normalized/dt=[^/]+/source=[^/]+/[^/]+[.]parquet$')
        in (
          select committed.file.path
          from (
            select unnest(files) as file
            from read_json(
              '{{ lake }}_manifests/*.json',
              columns = {run_id: 'VARCHAR', files: 'STRUCT(path VARCHAR, zone VARCHAR)[]'}
            )
          ) as committed
          where committed.file.zone = 'normalized'
        )
    )
  {%- else -%}
    {{ source('sink', table ~ '_changes') }}
  {%- endif -%}
{% endmacro %}

{#- The columns a var lists (by default canonical_columns, the product table's), comma-separated,
optionally qualified. -#}
{% macro canonical_columns(prefix='', columns='canonical_columns') %}
  {%- for column in var(columns) -%}
    {{ prefix }}{{ column }}{{ ", " if not loop.last }}
  {%- endfor -%}
{% endmacro %}

{#- Whether the order models are built: always on the sink (its migrations create the order
tables), on the lake when it holds the orders dataset (`make dbt` sets DBT_LAKE_ORDERS). -#}
{% macro orders_enabled() %}
  {{- return(target.type == 'postgres' or env_var('DBT_LAKE_ORDERS', 'no') == 'yes') -}}
{% endmacro %}
