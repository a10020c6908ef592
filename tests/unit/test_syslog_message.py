"""RFC 5424 / RFC 3164 formatting: limits, escaping, the BOM rule, framing and UDP size limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forwarder.sinks.syslog.framing import TRUNCATION_MARKER, cut_utf8, fit_datagram, frame
from forwarder.sinks.syslog.message import (
    BOM,
    SyslogMessage,
    escape_sd_value,
    format_3164,
    format_5424,
    message_body,
    prival,
    sd_name,
    structured_data_element,
    tag_3164,
    timestamp_3164,
    timestamp_5424,
)
from forwarder.sinks.syslog.settings import Facility, Severity

MOMENT = datetime(2024, 3, 5, 7, 8, 9, 123456, tzinfo=UTC)


def message_5424(**overrides: object) -> SyslogMessage:
    arguments: dict[str, object] = {
        "pri": 134,
        "moment": MOMENT,
        "hostname": "host.example",
        "app_name": "cloudflare-access",
        "procid": "42",
        "msgid": "access_requests",
        "structured_data": "",
        "body": b"hello",
    }
    arguments.update(overrides)
    return format_5424(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facility", "severity", "expected"),
    [
        (0, 0, 0),
        (Facility.LOCAL0, Severity.INFO, 134),
        (Facility.AUTHPRIV, Severity.WARNING, 84),
        (23, 7, 191),
    ],
)
def test_prival_is_facility_times_eight_plus_severity(facility: int, severity: int, expected: int) -> None:
    assert prival(facility, severity) == expected


@pytest.mark.parametrize(("facility", "severity"), [(24, 0), (-1, 0), (0, 8), (0, -1)])
def test_prival_outside_the_rfc_range_is_refused(facility: int, severity: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        prival(facility, severity)


def test_5424_message_has_every_header_field_in_order() -> None:
    message = message_5424(structured_data='[x@32473 a="b"]')
    assert message.encode() == (
        b"<134>1 2024-03-05T07:08:09.123456Z host.example cloudflare-access 42 access_requests "
        b'[x@32473 a="b"] hello'
    )


def test_5424_without_structured_data_uses_nilvalue() -> None:
    assert message_5424().encode().endswith(b" access_requests - hello")


def test_5424_without_body_ends_after_structured_data() -> None:
    assert message_5424(body=b"").encode().endswith(b"access_requests -")


@pytest.mark.parametrize(
    ("field", "limit"), [("hostname", 255), ("app_name", 48), ("procid", 128), ("msgid", 32)]
)
def test_header_fields_are_cut_to_the_rfc_limit(field: str, limit: int) -> None:
    message = message_5424(**{field: "a" * (limit + 20)}).encode().decode()
    header_fields = message.split(" ")
    position = {"hostname": 2, "app_name": 3, "procid": 4, "msgid": 5}[field]
    assert header_fields[position] == "a" * limit


def test_header_fields_at_the_limit_are_kept_whole() -> None:
    message = message_5424(hostname="h" * 255, app_name="a" * 48, msgid="m" * 32).encode().decode()
    assert message.split(" ")[2:6] == ["h" * 255, "a" * 48, "42", "m" * 32]


def test_header_fields_lose_characters_outside_printable_ascii() -> None:
    message = message_5424(hostname="hö st\n", app_name="   ").encode().decode()
    assert message.split(" ")[2:4] == ["hst", "-"]


def test_timestamp_is_utc_with_six_fraction_digits() -> None:
    eastern = datetime(2024, 3, 5, 2, 8, 9, 5, tzinfo=timezone(timedelta(hours=-5)))
    assert timestamp_5424(eastern) == "2024-03-05T07:08:09.000005Z"


def test_timestamp_pads_early_years_to_four_digits() -> None:
    assert timestamp_5424(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"


def test_3164_timestamp_pads_the_day_with_a_space() -> None:
    assert timestamp_3164(datetime(2024, 1, 5, 3, 4, 5, tzinfo=UTC)) == "Jan  5 03:04:05"
    assert timestamp_3164(datetime(2024, 12, 25, 23, 4, 5, tzinfo=UTC)) == "Dec 25 23:04:05"


def test_3164_message_layout() -> None:
    message = format_3164(
        pri=134, moment=MOMENT, hostname="host", app_name="cloudflare-access", procid="7", body=b"x"
    )
    assert message.encode() == b"<134>Mar  5 07:08:09 host cloudflare-access[7]: x"


def test_3164_tag_is_at_most_32_characters_and_stops_at_separators() -> None:
    assert tag_3164("a" * 40) == "a" * 32
    assert tag_3164("app:name") == "app"
    assert tag_3164("app[1]") == "app"


def test_3164_without_a_hostname_still_has_one() -> None:
    message = format_3164(pri=1, moment=MOMENT, hostname="", app_name="a", procid="1", body=b"x")
    assert b" localhost a[1]: x" in message.encode()


@pytest.mark.parametrize(
    ("text", "bom", "expected"),
    [
        ("plain ascii", "auto", b"plain ascii"),
        ("naïve", "auto", BOM + "naïve".encode()),
        ("plain ascii", "always", BOM + b"plain ascii"),
        ("naïve", "never", "naïve".encode()),
    ],
)
def test_bom_rule(text: str, bom: str, expected: bytes) -> None:
    assert message_body(text, bom) == expected  # type: ignore[arg-type]


def test_sd_values_escape_quote_backslash_and_bracket_only() -> None:
    assert escape_sd_value('a"b\\c]d[e=f é') == 'a\\"b\\\\c\\]d[e=f é'


@given(st.text())
def test_sd_value_escaping_is_reversible(value: str) -> None:
    # Reading an escaped value back (a backslash takes the next character literally) gives the
    # original, and no unescaped quote, backslash or bracket is left to end the value early.
    escaped = escape_sd_value(value)
    decoded, index = [], 0
    while index < len(escaped):
        if escaped[index] == "\\":
            assert escaped[index + 1] in '"\\]'
            index += 1
        else:
            assert escaped[index] not in '"]'
        decoded.append(escaped[index])
        index += 1
    assert "".join(decoded) == value


def test_structured_data_element() -> None:
    element = structured_data_element("cloudflare@32473", [("user", 'x"]'), ("ip", "1.2.3.4")])
    assert element == '[cloudflare@32473 user="x\\"\\]" ip="1.2.3.4"]'


@pytest.mark.parametrize("name", ["", "a" * 33, "a b", "a=b", "a]b", 'a"b', "é"])
def test_sd_names_outside_the_rfc_alphabet_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="SD-NAME"):
        sd_name(name)


def test_sd_name_of_32_characters_is_accepted() -> None:
    assert sd_name("n" * 32) == "n" * 32


def test_octet_counting_frame_counts_bytes_not_characters() -> None:
    message = "<1>1 - - - - - é\n".encode()
    assert frame(message, "octet-counting") == b"%d " % len(message) + message
    assert frame(message, "octet-counting").startswith(b"18 ")


def test_lf_frame_replaces_line_feeds_inside_the_message() -> None:
    assert frame(b"one\ntwo", "lf") == b"one two\n"


def test_cut_utf8_never_splits_a_character() -> None:
    data = "aé€😀".encode()  # 1 + 2 + 3 + 4 bytes
    assert [cut_utf8(data, limit) for limit in range(11)] == [
        b"",
        b"a",
        b"a",
        "aé".encode(),
        "aé".encode(),
        "aé".encode(),
        "aé€".encode(),
        "aé€".encode(),
        "aé€".encode(),
        "aé€".encode(),
        data,
    ]


def test_datagram_that_fits_is_sent_whole() -> None:
    message = message_5424()
    assert fit_datagram(message, len(message)) == (message.encode(), False)


def test_long_datagram_is_cut_and_marked() -> None:
    message = message_5424(body=b"x" * 5000)
    datagram, truncated = fit_datagram(message, 1000) or (b"", False)
    assert truncated
    assert len(datagram) == 1000
    assert datagram.endswith(TRUNCATION_MARKER)
    assert datagram.startswith(message.head + b"- xxx")


def test_cut_datagram_keeps_utf8_whole() -> None:
    message = message_5424(body=BOM + "€".encode() * 1000)
    datagram, _ = fit_datagram(message, 700) or (b"", False)
    datagram.decode("utf-8")  # would raise on a split character
    assert len(datagram) <= 700


def test_structured_data_is_dropped_when_it_leaves_no_room() -> None:
    structured = "[x@32473 " + " ".join(f'p{i}="{"v" * 50}"' for i in range(20)) + "]"
    message = message_5424(structured_data=structured, body=b"body")
    datagram, truncated = fit_datagram(message, 600) or (b"", False)
    assert truncated
    assert datagram.startswith(message.head + b"- body")
    assert datagram.endswith(TRUNCATION_MARKER)


def test_datagram_whose_header_cannot_fit_is_refused() -> None:
    message = message_5424(hostname="h" * 255, app_name="a" * 48)
    assert fit_datagram(message, len(message.head) + 5) is None
