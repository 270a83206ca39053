"""``content_hashes`` (a whole table at once) gives every row exactly ``hash_content(row)``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.lake.row_hash import content_hashes
from pipelines.lake.schema import hash_content
from tests.strategies import product_row, product_rows, product_table

ESCAPED = "".join(chr(code) for code in range(0x20)) + '"\\ é \u2028 \x7f 🙂'


def expected(rows: list[dict[str, Any]]) -> list[str]:
    return [hash_content(row) for row in rows]


def hashes(table: pa.Table) -> list[str]:
    return content_hashes(table).to_pylist()


@settings(max_examples=60, deadline=None)
@given(st.lists(product_rows(), max_size=8))
def test_generated_rows_hash_as_hash_content(rows: list[dict[str, Any]]) -> None:
    assert hashes(product_table(rows)) == expected(rows)


def test_a_string_column_needing_escapes_and_one_not_hash_as_hash_content() -> None:
    for text in (ESCAPED, "plain text", "a \\ b", 'say "hi"', "tab\there", "\x00\x1f"):
        rows = [product_row(description=text), product_row(description="plain")]
        assert hashes(product_table(rows)) == expected(rows), repr(text)


def test_nulls_some_all_or_none_and_list_items() -> None:
    rows = [
        product_row(description=None, tags=["a", None], category_path=None, sku=None),
        product_row(tags=[], category_path=[ESCAPED], sku=None, inventory_quantity=None),
        product_row(tags=None, sku=None, price_amount=None, source_created_at=None),
    ]
    assert hashes(product_table(rows)) == expected(rows)


def test_decimals_normalized_at_every_scale() -> None:
    amounts = ["0", "100", "12.5", "-3.25", "0.0001", "1000000", "7.1230"]
    for scale in (0, 2, 4):
        schema = product_table([]).schema
        field = schema.field("price_amount").with_type(pa.decimal128(18, scale))
        schema = schema.set(schema.get_field_index("price_amount"), field)
        quantum = Decimal(1).scaleb(-scale)
        rows = [product_row(price_amount=Decimal(a).quantize(quantum)) for a in amounts]
        table = pa.Table.from_pylist(rows, schema=schema)
        assert hashes(table) == expected(rows), scale


def test_timestamps_with_and_without_microseconds() -> None:
    plain = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    times = [plain, plain.replace(microsecond=60)]
    rows = [product_row(source_created_at=t) for t in times + times[:1]]
    assert hashes(product_table(rows)) == expected(rows)


def test_sliced_and_chunked_tables() -> None:
    rows = [product_row(description=f'"{n}"\n', tags=[str(n)], sku=None) for n in range(6)]
    rows[4]["sku"] = "x\\y"
    table = product_table(rows)
    assert hashes(table.slice(2, 3)) == expected(rows[2:5])
    chunked = pa.concat_tables([table.slice(1, 2), table.slice(3)])
    assert hashes(chunked) == expected(rows[1:])


def test_an_empty_table() -> None:
    assert hashes(product_table([])) == []


def test_an_escape_far_into_a_long_column_is_found() -> None:
    rows = [product_row(description=c * 200_000) for c in "ab"]
    rows.append(product_row(description='"quoted"\n\\'))
    assert hashes(product_table(rows)) == expected(rows)


def test_lists_empty_null_or_escaped_without_null_items() -> None:
    tags = [[], None, ["a", 'b"c', ""], [ESCAPED], ["x"]]
    rows = [product_row(tags=t, category_path=t and t[:1]) for t in tags]
    assert hashes(product_table(rows)) == expected(rows)
