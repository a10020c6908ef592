"""CEF and LEEF: escaping (property-tested by parsing back) and key mappings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forwarder import __version__
from forwarder.formats import encoder_for
from forwarder.formats.cef import escape_extension, format_cef, to_cef
from forwarder.formats.key_value import DEFAULT_OPTIONS, KeyValueOptions, escape_header
from forwarder.formats.leef import format_leef, header_delimiter, to_leef
from forwarder.records import LogType, Record, make_record
from forwarder.sinks.syslog.settings import parse_delimiter
from tests.support.syslog_parsers import parse_cef, parse_leef

ACCOUNT = "0123456789abcdef0123456789abcdef"
OBSERVED = datetime(2024, 1, 1, tzinfo=UTC)
# Any text, including the characters every format treats specially.
values = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from('|\\=\n\r ^\t]"'), min_size=1)
keys = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True)
delimiters = st.sampled_from(["^", "\t", "~", "#", ";", "\x01", "¦"])


def access(**data: Any) -> Record:
    return make_record(LogType.ACCESS_REQUESTS, ACCOUNT, data, observed=OBSERVED)


def scim(**data: Any) -> Record:
    return make_record(LogType.SCIM_UPDATES, ACCOUNT, data, observed=OBSERVED)


@given(
    st.lists(values, min_size=5, max_size=5), st.integers(0, 10), st.dictionaries(keys, values, max_size=8)
)
def test_cef_round_trips_any_header_and_extension(
    header: list[str], severity: int, extension: dict[str, str]
) -> None:
    line = format_cef(header, severity, list(extension.items()))
    parsed = parse_cef(line)
    expected_header = [value.replace("\n", " ").replace("\r", " ") for value in header]
    assert parsed.version == "0"
    assert parsed.header == [*expected_header, str(severity)]
    assert parsed.extension == extension


@given(values)
def test_cef_extension_escape_leaves_no_bare_separator(value: str) -> None:
    escaped = escape_extension(value)
    assert "\n" not in escaped
    assert "\r" not in escaped
    bare = escaped.replace("\\\\", "").replace("\\=", "")
    assert "=" not in bare


@given(values)
def test_cef_header_escape_leaves_no_bare_pipe(value: str) -> None:
    assert "|" not in escape_header(value).replace("\\\\", "").replace("\\|", "")


@given(st.lists(values, min_size=4, max_size=4), delimiters, st.dictionaries(keys, values, max_size=8))
def test_leef_round_trips_any_header_and_attributes(
    header: list[str], delimiter: str, attributes: dict[str, str]
) -> None:
    line = format_leef(header, delimiter, list(attributes.items()))
    parsed = parse_leef(line)
    assert parsed.version == "2.0"
    assert parsed.header == [value.replace("\n", " ").replace("\r", " ") for value in header]
    assert parsed.delimiter == delimiter
    assert parsed.attributes == attributes


@given(
    st.dictionaries(
        st.sampled_from(
            ["user_email", "ip_address", "app_domain", "action", "connection", "ray_id", "app_uid"]
        ),
        values,
    ),
    st.booleans(),
)
def test_cef_of_any_access_record_parses_back(data: dict[str, str], allowed: bool) -> None:
    record = access(**data, allowed=allowed, created_at="2024-05-06T07:08:09.123Z")
    parsed = parse_cef(to_cef(record, DEFAULT_OPTIONS))
    assert parsed.extension.get("suser") == data.get("user_email")
    assert parsed.extension.get("act") == data.get("action")
    assert parsed.extension.get("externalId") == data.get("ray_id")
    assert parsed.extension["cs4"] == record.event_id


@given(
    st.dictionaries(
        st.sampled_from(["resource_user_email", "request_body", "error_description", "status"]), values
    ),
    delimiters,
)
def test_leef_of_any_scim_record_parses_back(data: dict[str, str], delimiter: str) -> None:
    record = scim(**data, logged_at="2024-05-06T07:08:09.123Z")
    parsed = parse_leef(to_leef(record, KeyValueOptions(leef_delimiter=delimiter)))
    assert parsed.attributes.get("usrName") == data.get("resource_user_email")
    assert parsed.attributes.get("requestBody") == data.get("request_body")
    assert parsed.attributes.get("reason") == data.get("error_description")


def test_cef_access_request_mapping() -> None:
    record = access(
        user_email="ann@example.com",
        ip_address="2001:db8::1",
        app_uid="uid-1",
        app_domain="app.example.com/admin",
        action="login",
        connection="okta",
        allowed=False,
        created_at="2024-05-06T07:08:09.123Z",
        ray_id="8a1b2c3d4e5f6a7b",
    )
    parsed = parse_cef(to_cef(record, DEFAULT_OPTIONS))
    assert parsed.header == [
        "Cloudflare",
        "Access",
        __version__,
        "access_request.failure",
        "Access request denied",
        "6",
    ]
    assert parsed.extension == {
        "rt": "1714979289123",
        "cat": "access_requests",
        "outcome": "failure",
        "suser": "ann@example.com",
        "src": "2001:db8::1",
        "act": "login",
        "dhost": "app.example.com",
        "request": "app.example.com/admin",
        "externalId": "8a1b2c3d4e5f6a7b",
        "cs1Label": "appUid",
        "cs1": "uid-1",
        "cs2Label": "identityProvider",
        "cs2": "okta",
        "cs3Label": "accountId",
        "cs3": ACCOUNT,
        "cs4Label": "eventId",
        "cs4": record.event_id,
    }


def test_cef_scim_mapping_leaves_out_nulls_and_their_labels() -> None:
    record = scim(
        resource_user_email="bob@example.com",
        request_method="PATCH",
        resource_type="USER",
        status="FAILURE",
        error_description="bad = request\nline",
        idp_id=None,
        logged_at="2024-05-06T07:08:09Z",
    )
    line = to_cef(record, KeyValueOptions(failure_severity=7))
    # idp_id is null: neither cs1 nor its label is written.
    assert "cs1" not in line
    parsed = parse_cef(line)
    assert parsed.header[3:] == ["scim_update.failure", "SCIM update failed", "7"]
    assert parsed.extension["reason"] == "bad = request\nline"
    assert parsed.extension["duser"] == "bob@example.com"
    assert parsed.extension["requestMethod"] == "PATCH"
    assert parsed.extension["cs5Label"] == "resourceType"
    assert parsed.extension["flexString1"] == "FAILURE"


def test_cef_leaves_out_an_address_that_is_not_one() -> None:
    assert "src=" not in to_cef(access(ip_address="not an ip"), DEFAULT_OPTIONS)


def test_leef_access_request_mapping() -> None:
    record = access(
        user_email="ann@example.com",
        ip_address="192.0.2.7",
        app_domain="app.example.com",
        action="login",
        allowed=True,
        created_at="2024-05-06T07:08:09.123456Z",
    )
    line = to_leef(record, DEFAULT_OPTIONS)
    assert line.startswith(f"LEEF:2.0|Cloudflare|Access|{__version__}|access_request.success|^|devTime=")
    parsed = parse_leef(line)
    assert parsed.attributes["devTime"] == "2024-05-06T07:08:09.123+0000"
    assert parsed.attributes["devTimeFormat"] == "yyyy-MM-dd'T'HH:mm:ss.SSSZ"
    assert parsed.attributes["usrName"] == "ann@example.com"
    assert parsed.attributes["src"] == parsed.attributes["identSrc"] == "192.0.2.7"
    assert parsed.attributes["isLoginEvent"] == "true"
    assert parsed.attributes["sev"] == "3"
    assert parsed.attributes["resource"] == "app.example.com"


def test_leef_writes_an_unprintable_delimiter_as_hex() -> None:
    assert header_delimiter("\t") == "x09"
    assert "|x09|" in to_leef(access(), KeyValueOptions(leef_delimiter="\t"))


@pytest.mark.parametrize(("setting", "delimiter"), [("^", "^"), ("x09", "\t"), ("0x09", "\t"), ("X5E", "^")])
def test_leef_delimiter_settings(setting: str, delimiter: str) -> None:
    assert parse_delimiter(setting) == delimiter


@pytest.mark.parametrize("setting", ["", "ab", "=", "\\", "|", "a", "7", "x", "0xZZ", "x12345"])
def test_leef_delimiter_settings_that_cannot_work(setting: str) -> None:
    with pytest.raises(ValueError, match=r"delimiter|hex"):
        parse_delimiter(setting)


def test_the_encoders_write_the_lines_as_utf8() -> None:
    record = access(user_email="josé@example.com", allowed=True)
    assert encoder_for("cef")(record) == to_cef(record, DEFAULT_OPTIONS).encode()
    assert encoder_for("leef")(record) == to_leef(record, DEFAULT_OPTIONS).encode()
    options = KeyValueOptions(other_severity=0, leef_delimiter="~")
    assert encoder_for("leef", options)(record) == to_leef(record, options).encode()
    # LEEF's sev is 1-10: a CEF severity of 0 is written as 1.
    assert "~sev=1~" in to_leef(record, options)
