"""SCIM request bodies are parsed, redacted and bounded before any sink sees them."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forwarder.formats import Format, encoder_for
from forwarder.records import LogType
from forwarder.source.paging import record_from_api
from forwarder.source.scim_bodies import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_REDACT_KEYS,
    INFO_KEY,
    PARSED_KEY,
    REDACTED,
    prepare_scim_record,
)

SECRET = "hunter2-do-not-leak"


def _prepare(body: Any, **options: Any) -> dict[str, Any]:
    encoded = body if isinstance(body, str) else orjson.dumps(body).decode()
    return prepare_scim_record({"request_body": encoded, "status": "SUCCESS"}, **options)


def _everything(prepared: dict[str, Any]) -> bytes:
    return orjson.dumps(prepared)


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "PASSWORD",
        "newPassword",
        "client_secret",
        "clientSecret",
        "X-Client-Secret",
        "accessToken",
        "refresh_token",
        "id_token",
        "api_key",
        "apiKey",
        "Authorization",
        "privateKey",
    ],
)
def test_sensitive_keys_are_redacted_whatever_their_spelling(key: str) -> None:
    prepared = _prepare({"userName": "carol@example.com", key: SECRET})
    assert SECRET.encode() not in _everything(prepared)
    assert prepared[PARSED_KEY] == {"userName": "carol@example.com", key: REDACTED}
    assert prepared[INFO_KEY]["redactions"] == 1


def test_sensitive_keys_are_redacted_at_any_depth_and_whole() -> None:
    body = {
        "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {
            "credentials": [{"type": "x", "value": SECRET}],
            "nested": [{"deeper": {"secret": {"a": SECRET}}}],
        }
    }
    prepared = _prepare(body)
    assert SECRET.encode() not in _everything(prepared)
    extension = prepared[PARSED_KEY]["urn:ietf:params:scim:schemas:extension:custom:2.0:User"]
    assert extension["credentials"] == REDACTED
    assert extension["nested"] == [{"deeper": {"secret": REDACTED}}]


@pytest.mark.parametrize(
    "path",
    [
        "password",
        "Password",
        "urn:ietf:params:scim:schemas:core:2.0:User:password",
        'credentials[type eq "otp"].secret',
        "x509Certificates.privateKey",
    ],
)
def test_patch_operations_whose_path_names_a_secret_have_their_value_redacted(path: str) -> None:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": path, "value": SECRET}],
    }
    prepared = _prepare(body)
    assert SECRET.encode() not in _everything(prepared)
    assert prepared[PARSED_KEY]["Operations"] == [{"op": "replace", "path": path, "value": REDACTED}]


def test_patch_operations_without_path_are_redacted_inside_their_value() -> None:
    body = {"Operations": [{"op": "Replace", "value": {"active": False, "password": SECRET}}]}
    prepared = _prepare(body)
    assert prepared[PARSED_KEY]["Operations"][0]["value"] == {"active": False, "password": REDACTED}


def test_patch_operations_on_ordinary_paths_are_kept() -> None:
    body = {
        "Operations": [
            {"op": "replace", "path": "displayName", "value": "Carol"},
            {"op": "add", "path": 'members[value eq "password"]', "value": "kept"},
        ]
    }
    prepared = _prepare(body)
    assert prepared[PARSED_KEY] == body
    assert prepared[INFO_KEY]["redactions"] == 0


def test_configured_keys_are_redacted_case_insensitively_and_defaults_can_be_replaced() -> None:
    body = {"phoneNumbers": [{"value": "+351 555"}], "PASSWORD": "kept-when-not-configured"}
    prepared = _prepare(body, redact_keys=frozenset({"phonenumbers"}))
    assert prepared[PARSED_KEY] == {"phoneNumbers": REDACTED, "PASSWORD": "kept-when-not-configured"}


def test_an_untouched_body_is_kept_byte_for_byte() -> None:
    body = '{ "userName" : "carol@example.com",\n  "active": true }'
    prepared = _prepare(body)
    assert prepared["request_body"] == body
    assert prepared[PARSED_KEY] == {"userName": "carol@example.com", "active": True}
    assert prepared[INFO_KEY] == {
        "original_bytes": len(body),
        "parsed": True,
        "redactions": 0,
        "shape": "json",
        "truncated": False,
    }


def test_a_redacted_body_is_re_encoded_from_the_redacted_json() -> None:
    prepared = _prepare(f'{{"userName": "c", "password": "{SECRET}"}}')
    assert prepared["request_body"] == '{"userName":"c","password":"[REDACTED]"}'


@pytest.mark.parametrize("body", ["[1, 2]", '"a string"', "42", "null", "true", '[{"password": "x"}]'])
def test_bodies_that_are_json_but_not_objects_are_parsed_too(body: str) -> None:
    prepared = _prepare(body)
    assert prepared[INFO_KEY]["parsed"] is True
    assert PARSED_KEY in prepared
    assert b'"x"' not in _everything(prepared)


def test_a_body_that_does_not_parse_is_kept_as_text_with_its_secrets_redacted() -> None:
    body = (
        f'{{"userName": "dave", "password": "{SECRET}", '
        f'"Operations": [{{"value": "{SECRET}", "op": "replace", "path": "password"}}, '
        f'{{"op": "replace", "path": "password", "value": {{"nested": ["{SECRET}"]}}}}'
    )
    prepared = _prepare(body)
    assert SECRET.encode() not in _everything(prepared)
    assert prepared[INFO_KEY]["parsed"] is False
    assert PARSED_KEY not in prepared
    assert prepared["request_body"].startswith('{"userName": "dave", "password": "[REDACTED]"')


def test_the_documented_example_body_is_kept() -> None:
    prepared = prepare_scim_record({"request_body": "{}}", "request_method": "DELETE"})
    assert prepared["request_body"] == "{}}"
    assert prepared["request_method"] == "DELETE"
    assert prepared[INFO_KEY] == {
        "original_bytes": 3,
        "parsed": False,
        "redactions": 0,
        "shape": "json",
        "truncated": False,
    }


def test_a_giant_body_is_truncated_with_a_visible_marker() -> None:
    body = orjson.dumps({"members": [{"value": f"user-{index:07d}"} for index in range(250_000)]}).decode()
    assert len(body) > 5_000_000
    prepared = _prepare(body)
    text = prepared["request_body"]
    assert len(text.encode()) <= DEFAULT_MAX_BODY_BYTES
    assert text.startswith(body[:1000])
    assert text.endswith(f"…[truncated by cloudflare-siem-forwarder, original {len(body)} bytes]")
    assert PARSED_KEY not in prepared
    assert prepared[INFO_KEY] == {
        "original_bytes": len(body),
        "parsed": True,
        "redactions": 0,
        "shape": "json",
        "truncated": True,
    }


def test_truncation_never_splits_a_character() -> None:
    prepared = _prepare({"displayName": "é" * 1000}, max_body_bytes=301)
    text = prepared["request_body"]
    assert len(text.encode()) <= 301
    assert "\ufffd" not in text
    text.encode("utf-8", "strict")


def test_a_limit_of_zero_disables_truncation() -> None:
    body = "x" * 200_000
    assert _prepare(body, max_body_bytes=0)["request_body"] == body


def test_preparing_twice_changes_nothing_and_the_input_is_not_mutated() -> None:
    data = {"request_body": '{"password": "p"}', "status": "SUCCESS"}
    once = prepare_scim_record(data)
    assert data == {"request_body": '{"password": "p"}', "status": "SUCCESS"}
    assert prepare_scim_record(once) == once


@pytest.mark.parametrize("body", [None, 17, True])
def test_records_without_a_string_body_are_copied_unchanged(body: Any) -> None:
    data = {"request_body": body, "status": "FAILURE"}
    assert prepare_scim_record(data) == data
    assert prepare_scim_record({"status": "SUCCESS"}) == {"status": "SUCCESS"}


def test_a_body_already_decoded_to_an_object_is_still_redacted() -> None:
    prepared = prepare_scim_record({"request_body": {"password": SECRET}})
    assert prepared["request_body"] == {"password": REDACTED}


def test_pathological_bodies_do_not_raise() -> None:
    deep = "[" * 50_000 + "]" * 50_000
    assert prepare_scim_record({"request_body": deep})[INFO_KEY]["parsed"] is False
    assert prepare_scim_record({"request_body": '{"a": "\ud800"}'})["request_body"] == '{"a": "?"}'


def test_the_defaults_are_module_constants_for_configuration() -> None:
    assert isinstance(DEFAULT_REDACT_KEYS, frozenset)
    assert "*password*" in DEFAULT_REDACT_KEYS
    assert DEFAULT_MAX_BODY_BYTES == 65536


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
_sensitive_keys = st.sampled_from(
    ["password", "Password", "client_secret", "accessToken", "apiKey", "x-api-key"]
)


@st.composite
def _bodies_with_secrets(draw: st.DrawFn) -> Any:
    """A JSON value with the secret planted under sensitive keys and sensitive PATCH paths."""
    keys = st.text(max_size=10).filter(
        lambda key: "pass" not in key.lower() and key not in ("nested", "Operations")
    )
    body: dict[str, Any] = draw(st.dictionaries(keys, _json, max_size=4))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "nested", "patch"]))
        if where == "top":
            body[draw(_sensitive_keys)] = SECRET
        elif where == "nested":
            body.setdefault("nested", {})
            if isinstance(body["nested"], dict):
                body["nested"][draw(_sensitive_keys)] = {"inner": SECRET}
            else:
                body["nested"] = [{draw(_sensitive_keys): SECRET}]
        else:
            path = draw(st.sampled_from(["password", "urn:ietf:params:scim:schemas:core:2.0:User:password"]))
            body.setdefault("Operations", []).append({"op": "replace", "path": path, "value": SECRET})
    return body


@settings(max_examples=150, deadline=None)
@given(
    body=_bodies_with_secrets(),
    limit=st.sampled_from([0, 120, 1000, DEFAULT_MAX_BODY_BYTES]),
    broken=st.booleans(),
)
def test_no_planted_secret_survives_preparation(body: Any, limit: int, broken: bool) -> None:
    text = orjson.dumps(body).decode()
    if broken:
        # Cut the JSON short, as a truncated upstream body would be: it is redacted as text.
        text = text[:-1]
    prepared = prepare_scim_record({"request_body": text}, max_body_bytes=limit)
    assert SECRET.encode() not in orjson.dumps(prepared)
    if limit:
        assert len(prepared["request_body"].encode()) <= max(limit, 100)


@pytest.mark.parametrize("fmt", ["raw", "ecs", "ocsf"])
def test_a_record_the_source_makes_without_a_preparer_is_redacted_all_the_same(fmt: str) -> None:
    # The formats prepare nothing: the source's defaults are what keeps the secret in.
    record = record_from_api(LogType.SCIM_UPDATES, "account", {"request_body": '{"password": "p4ss"}'})
    assert INFO_KEY in record.data
    assert b"p4ss" not in encoder_for(cast(Format, fmt))(record)
