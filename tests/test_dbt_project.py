"""The dbt project (dbt/, docs/dbt.md) agrees with the code it models; no dbt needed.

``make dbt`` builds and tests the models themselves (CI runs it, .ci/run). These checks keep the
vocabularies of its ``accepted_values`` tests and its list of canonical columns equal to
``pipelines/lake/schema.py`` and ``pipelines/lake/order_schema.py``, so a new condition, status
or column cannot drift past the dbt tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from pipelines.lake.order_schema import (
    FINANCIAL_STATUSES,
    FULFILLMENT_STATUSES,
    ORDER_LINES_SCHEMA,
    ORDERS_SCHEMA,
)
from pipelines.lake.schema import AVAILABILITIES, CHANGE_TYPES, CONDITIONS, PRODUCT_SCHEMA

REPO = Path(__file__).resolve().parents[1]
DBT = REPO / "dbt"
VOCABULARIES = {
    "condition": CONDITIONS,
    "availability": AVAILABILITIES,
    "change_type": CHANGE_TYPES,
    "financial_status": FINANCIAL_STATUSES,
    "fulfillment_status": FULFILLMENT_STATUSES,
}
# products_current leaves deleted products out, and orders are never deleted (order_schema.py):
# their change_type is never "deleted".
KEPT = tuple(c for c in CHANGE_TYPES if c != "deleted")
NARROWED = {
    (model, "change_type"): KEPT
    for model in ("products_current", "stg_orders_changes", "stg_order_lines_changes")
}


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def accepted_values(models_dir: Path) -> Iterator[tuple[str, str, list[str]]]:
    """(model, column, values) of every ``accepted_values`` test in the models' YAML."""
    for path in sorted(models_dir.rglob("*.yml")):
        for model in _load(path).get("models", []):
            for column in model.get("columns", []):
                for test in column.get("data_tests", []):
                    if isinstance(test, dict) and "accepted_values" in test:
                        values = test["accepted_values"]["arguments"]["values"]
                        yield model["name"], column["name"], values


def test_accepted_values_are_the_schemas_vocabularies() -> None:
    found = list(accepted_values(DBT / "models"))
    assert {column for _, column, _ in found} == set(VOCABULARIES)
    for model, column, values in found:
        expected = NARROWED.get((model, column), VOCABULARIES[column])
        assert tuple(values) == expected, f"dbt {model}.{column} accepted_values drifted"


def test_the_vocabulary_check_reads_every_accepted_values_test(tmp_path: Path) -> None:
    (tmp_path / "m.yml").write_text(
        "models:\n  - name: m\n    columns:\n      - name: condition\n        data_tests:\n"
        "          - not_null\n          - accepted_values:\n              arguments:\n"
        "                values: [new, used]\n"
    )
    assert list(accepted_values(tmp_path)) == [("m", "condition", ["new", "used"])]


def test_canonical_columns_are_the_product_schema_in_order() -> None:
    columns = _load(DBT / "dbt_project.yml")["vars"]["canonical_columns"]
    assert columns == PRODUCT_SCHEMA.names


def test_order_columns_are_the_order_schemas_in_order() -> None:
    variables = _load(DBT / "dbt_project.yml")["vars"]
    assert variables["order_columns"] == ORDERS_SCHEMA.names
    assert variables["order_line_columns"] == ORDER_LINES_SCHEMA.names


def test_ci_builds_the_dbt_project_after_the_tests() -> None:
    commands = (REPO / ".ci" / "run").read_text().splitlines()
    assert commands.index("make dbt") > commands.index("make test")
    assert "\ndbt: " in (REPO / "Makefile").read_text()
