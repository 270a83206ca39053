"""Numbers JSON forbids (NaN, Infinity, 1e999) are kept as sent and flagged, never made null."""

from __future__ import annotations

from pathlib import Path

import zstandard

from pipelines.lake.lake import RawWriter, StagedFile, read_raw
from pipelines.net import strict_json
from pipelines.net.strict_json import InvalidNumber, InvalidNumberRecord

SENT = b'{"id":"a","price":{"value":NaN,"list":[1.5,-Infinity,1e999]},"n":Infinity}'


def raw_lines(path: Path) -> list[bytes]:
    """The lines of a raw landing file, as stored."""
    with path.open("rb") as handle:
        return zstandard.ZstdDecompressor().stream_reader(handle).read().splitlines()


def test_non_finite_numbers_parse_as_their_text_and_write_back_byte_for_byte():
    value = strict_json.loads(SENT)

    assert value["price"]["value"] == InvalidNumber("NaN")
    assert value["price"]["list"] == [1.5, InvalidNumber("-Infinity"), InvalidNumber("1e999")]
    assert strict_json.dumps(value) == SENT


def test_a_raw_line_with_one_is_flagged_with_where_it_is():
    record = strict_json.loads_record(SENT)

    assert isinstance(record, InvalidNumberRecord)
    assert record.problems == [
        "price.value = NaN",
        "price.list[1] = -Infinity",
        "price.list[2] = 1e999",
        "n = Infinity",
    ]


def test_a_strict_line_is_a_plain_dict():
    record = strict_json.loads_record(b'{"id": "a", "price": 1.5}')

    assert type(record) is dict
    assert record == {"id": "a", "price": 1.5}


def test_the_raw_landing_file_keeps_the_record_as_sent_in_canonical_form(tmp_path):
    staged = StagedFile(tmp_path / "raw.jsonl.zst", "raw/x.jsonl.zst", "raw", "ebay")
    writer = RawWriter(staged)
    writer.write(strict_json.loads(SENT))
    writer.write({"id": "b", "price": 2.5})
    writer.close()

    lines = raw_lines(staged.staged)
    canonical = b'{"id":"a","n":Infinity,"price":{"list":[1.5,-Infinity,1e999],"value":NaN}}'
    assert lines == [canonical, b'{"id":"b","price":2.5}']  # the values as sent, keys sorted
    first, second = read_raw(staged.staged)
    assert isinstance(first, InvalidNumberRecord)
    assert type(second) is dict
