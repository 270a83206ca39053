"""Schema drift: a batch must carry every business column with its canonical type.

Apart from the row rules (pipelines.checks.quality): it judges a batch's columns, not its
rows, and stops the provider's run instead of quarantining rows.
"""

from __future__ import annotations

import pyarrow as pa

from pipelines.errors import SchemaDriftError
from pipelines.lake.schema import BUSINESS_FIELDS


def check_columns(table: pa.Table) -> None:
    """Raise SchemaDriftError unless every business column is there with its canonical type."""
    problems = []
    for expected in BUSINESS_FIELDS:
        if expected.name not in table.schema.names:
            problems.append(f"{expected.name} is missing")
        elif (actual := table.schema.field(expected.name).type) != expected.type:
            problems.append(f"{expected.name} is {actual}, expected {expected.type}")
    if problems:
        raise SchemaDriftError(f"quality check: {'; '.join(problems)}")
