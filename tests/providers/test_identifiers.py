"""GTIN-14 from the GS1 check-digit rules: every GTIN length, leading zeros, separators."""

from __future__ import annotations

import pytest

from providers.identifiers import gs1_check_digit, gtin14

# Valid numbers from the GS1 and standards' own examples.
VALID = [
    pytest.param("036000291452", "00036000291452", id="UPC-A 12"),
    pytest.param("0036000291452", "00036000291452", id="UPC-A as EAN-13 (leading zero)"),
    pytest.param("00036000291452", "00036000291452", id="UPC-A as GTIN-14 (two zeros)"),
    pytest.param("4006381333931", "04006381333931", id="EAN-13"),
    pytest.param("96385074", "00000096385074", id="GTIN-8 (EAN-8)"),
    pytest.param("9780306406157", "09780306406157", id="ISBN-13"),
    pytest.param("978-0-306-40615-7", "09780306406157", id="ISBN-13 with hyphens"),
    pytest.param("4006 3813 3393 1", "04006381333931", id="EAN-13 with spaces"),
    pytest.param(" 036000291452\n", "00036000291452", id="surrounding whitespace"),
    pytest.param("10036000291459", "10036000291459", id="GTIN-14 with indicator digit 1"),
    pytest.param("6291041500213", "06291041500213", id="GS1's check digit example"),
    pytest.param(4006381333931, "04006381333931", id="an integer"),
]

INVALID = [
    pytest.param("036000291453", id="UPC-A, check digit off by one"),
    pytest.param("4006381333932", id="EAN-13, wrong check digit"),
    pytest.param("96385075", id="GTIN-8, wrong check digit"),
    pytest.param("9780306406158", id="ISBN-13, wrong check digit"),
    pytest.param("10036000291452", id="GTIN-14, wrong check digit"),
    pytest.param("0306406152", id="ISBN-10 (not a GTIN)"),
    pytest.param("123456", id="UPC-E or too short"),
    pytest.param("123456789012345", id="15 digits"),
    pytest.param("00000000000000", id="all zeros"),
    pytest.param("40063813339a1", id="a letter"),
    pytest.param("４００６３８１３３３９３１", id="full-width digits"),
    pytest.param("4006381333931.0", id="a decimal point"),
    pytest.param("", id="empty"),
    pytest.param(None, id="None"),
    pytest.param(True, id="a boolean"),
]


@pytest.mark.parametrize(("value", "expected"), VALID)
def test_valid_gtins_become_14_digits(value: object, expected: str) -> None:
    assert gtin14(value) == expected


@pytest.mark.parametrize("value", INVALID)
def test_invalid_gtins_give_none(value: object) -> None:
    assert gtin14(value) is None


@pytest.mark.parametrize(
    ("body", "digit"),
    [("03600029145", 2), ("400638133393", 1), ("9638507", 4), ("978030640615", 7), ("0", 0)],
)
def test_gs1_check_digit(body: str, digit: int) -> None:
    assert gs1_check_digit(body) == digit


def test_every_wrong_check_digit_is_refused() -> None:
    body = "400638133393"
    results = {d: gtin14(body + str(d)) for d in range(10)}
    assert [d for d, result in results.items() if result] == [1]


def test_the_same_item_in_every_length_is_one_gtin14() -> None:
    forms = ["036000291452", "0036000291452", "00036000291452", "0-36000-29145-2"]
    assert {gtin14(form) for form in forms} == {"00036000291452"}
