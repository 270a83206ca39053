-- The change log: every new, changed and deleted row, canonical columns only (docs/lake.md).
select {{ canonical_columns() }}
from {{ changes_relation('products') }} as changes
