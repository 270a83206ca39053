{#- The lake's change log as a relation, per target (docs/dbt.md).

duckdb: the Parquet parts of `normalized/` that a manifest names, and only those. The glob
lists every part in place; the join on `_manifests/*.json` drops any file no manifest claims
(a run killed between moving its files and writing its manifest, until the next commit moves
them to `_trash/`), or a run between its renames and its manifest. Files still being written
are never in the glob: a run stages them in its work folder `_runs/<run_id>/` until the commit
renames them into place. `dt` and `source` come from the
folder names (hive partitioning); `union_by_name` gives parts written at schema version 1 a
null `gtin14`.

postgres: the sink's `products_changes` table, which holds the same columns. -#}
{% macro products_changes_relation() %}
  {%- if target.type == 'duckdb' -%}
    {%- set lake = var('lake') | replace("'", "''") -%}
    (
      select parts.*
      from read_parquet(
        '{{ lake }}/normalized/*/*/*.parquet',
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
              '{{ lake }}/_manifests/*.json',
              columns = {run_id: 'VARCHAR', files: 'STRUCT(path VARCHAR, zone VARCHAR)[]'}
            )
          ) as committed
          where committed.file.zone = 'normalized'
        )
    )
  {%- else -%}
    {{ source('sink', 'products_changes') }}
  {%- endif -%}
{% endmacro %}

{#- The canonical columns (var canonical_columns), comma-separated, optionally qualified. -#}
{% macro canonical_columns(prefix='') %}
  {%- for column in var('canonical_columns') -%}
    {{ prefix }}{{ column }}{{ ", " if not loop.last }}
  {%- endfor -%}
{% endmacro %}
