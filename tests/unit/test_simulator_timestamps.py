"""RFC 3339 parsing and formatting of the simulator: times as integer nanoseconds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fakes.cloudflare.timestamps import format_rfc3339, from_datetime, parse_rfc3339, truncate

BASE = from_datetime(datetime(2014, 1, 1, 5, 20, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-01-01T05:20:00Z", BASE),
        ("2014-01-01T05:20:00.12345Z", BASE + 123_450_000),
        ("2014-01-01T05:20:00.123456789Z", BASE + 123_456_789),
        ("2014-01-01t05:20:00z", BASE),
        ("2014-01-01T07:20:00+02:00", BASE),
        ("2014-01-01T03:20:00.5-02:00", BASE + 500_000_000),
    ],
)
def test_parses_rfc3339_exactly(text: str, expected: int) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2014-01-01",
        "2014-01-01T05:20:00",
        "2014-02-30T00:00:00Z",
        "1388553600",
        "2014-01-01T05:20:00.1234567890Z",
    ],
)
def test_rejects_what_is_not_rfc3339(text: str) -> None:
    assert parse_rfc3339(text) is None


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        (0, "2014-01-01T05:20:00Z"),
        (3, "2014-01-01T05:20:00.123Z"),
        (5, "2014-01-01T05:20:00.12345Z"),
        (6, "2014-01-01T05:20:00.123456Z"),
        (9, "2014-01-01T05:20:00.123456789Z"),
    ],
)
def test_formats_with_the_fraction_digits_asked(digits: int, expected: str) -> None:
    moment = BASE + 123_456_789
    assert format_rfc3339(moment, digits) == expected
    assert parse_rfc3339(expected) == truncate(moment, digits)
