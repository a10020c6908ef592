"""SCIM bodies of every shape (JSON, form, header lines, markup, free text) lose their secrets."""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forwarder.source.scim_bodies import (
    DEFAULT_MAX_BODY_BYTES,
    INFO_KEY,
    PARSED_KEY,
    REDACTED,
    prepare_scim_record,
)

JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ"
    ".eyJzdWIiOiIwMHUxYTJiM2M0IiwiYXVkIjoic2NpbSIsImV4cCI6MTcxNTAwMDAwMH0"
    ".c2lnbmF0dXJlLW9mLXRoZS10b2tlbi1kby1ub3QtbGVhaw"
)
GITHUB = "ghp_1a2B3c4D5e6F7g8H9i0JkLmNoPqRsTuVwXyZ"
GITHUB_FINE = "github_pat_11ABCDEFG0aBcDeFgHiJkL_mNoPqRsTuVwXyZ0123456789abcdefghijklmnopqrstuvwx"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SLACK = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_HOOK = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"
GOOGLE = "AIzaSyA-1234567890abcdefghijklmnopqrstu"
PEM_BODY = (
    "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\naGVsbG8tZG8tbm90LWxlYWstdGhpcy1rZXk="
)
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
BASIC = base64.b64encode(b"scim-client:Sup3r-S3cret-Basic").decode()


def _prepare(body: str, **options: Any) -> dict[str, Any]:
    return prepare_scim_record({"request_body": body, "status": "SUCCESS"}, **options)


@dataclass(frozen=True)
class Case:
    id: str
    body: str
    shape: str
    # Secrets: none may be left anywhere in the prepared record.
    secrets: tuple[str, ...]
    # Ordinary content: all must be left in the redacted body.
    kept: tuple[str, ...] = ()


CASES = [
    Case(
        "okta-create-user",
        orjson.dumps(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "isaac.brock@example.com",
                "name": {"givenName": "Isaac", "familyName": "Brock"},
                "emails": [{"primary": True, "value": "isaac.brock@example.com", "type": "work"}],
                "displayName": "Isaac Brock",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "password": "1mz050nq-okta",
                "active": True,
            }
        ).decode(),
        "json",
        ("1mz050nq-okta",),
        ("isaac.brock@example.com", "00ujl29u0le5T6Aj10h7", "Isaac Brock"),
    ),
    Case(
        "okta-patch-password-without-path",
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
        '"Operations":[{"op":"replace","value":{"password":"t1meMa$heen-okta"}}]}',
        "json",
        ("t1meMa$heen-okta",),
        ("PatchOp", "replace"),
    ),
    Case(
        "azure-ad-patch-with-paths",
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['
        '{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",'
        '"value":"701984"},'
        '{"op":"Add","path":"urn:ietf:params:scim:schemas:core:2.0:User:password","value":"AzureP@ss-9981"},'
        '{"op":"Add","path":"emails[type eq \\"work\\"].value","value":"ryan@contoso.example"}]}',
        "json",
        ("AzureP@ss-9981",),
        ("701984", "ryan@contoso.example", "employeeNumber"),
    ),
    Case(
        "onelogin-extension-with-tokens-in-strings",
        orjson.dumps(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "jane@onelogin.example",
                "urn:ietf:params:scim:schemas:extension:onelogin:2.0:User": {
                    "notes": f"migrated with Authorization: Bearer {JWT}",
                    "comment": f"old key {AWS_KEY_ID}, rotate; aws_secret_access_key={AWS_SECRET}",
                    "department": "Finance",
                },
            }
        ).decode(),
        "json",
        (JWT, AWS_KEY_ID, AWS_SECRET, JWT.split(".")[2]),
        ("jane@onelogin.example", "Finance", "migrated with Authorization"),
    ),
    Case(
        "json-string-body-holding-a-form",
        orjson.dumps("userName=alice&password=Json-String-Pw1").decode(),
        "json",
        ("Json-String-Pw1",),
        ("userName=alice",),
    ),
    Case(
        "broken-json",
        '{"userName":"dave@example.com","active":true,"note":"token=Broken-Json-Tok9","password":"abc-xyz-1',
        "json",
        ("Broken-Json-Tok9", "abc-xyz-1"),
        ("dave@example.com",),
    ),
    Case(
        "oauth-client-credentials-form",
        "grant_type=client_credentials&client_id=0oa1b2c3d4E5f6G7h8i9&client_secret=Zk9-FoRm-SeCrEt-42"
        "&scope=okta.users.manage",
        "form",
        ("Zk9-FoRm-SeCrEt-42",),
        ("grant_type=client_credentials", "client_id=0oa1b2c3d4E5f6G7h8i9", "scope=okta.users.manage"),
    ),
    Case(
        "password-grant-form-percent-encoded",
        "grant_type=password&username=alice%40example.com&password=P%40ss+w0rd%21-form&user%5Bapi_key%5D=k3y"
        "&note=" + quote_plus(f"see Bearer {JWT} and {PEM}") + "\n",
        "form",
        ("P%40ss+w0rd%21-form", "P@ss w0rd!-form", JWT, PEM_BODY.split("\n")[0], "k3y"),
        ("username=alice%40example.com", "grant_type=password"),
    ),
    Case(
        "patch-flattened-into-a-form",
        "op=replace&path=password&value=Flat-Patch-Pw1",
        "form",
        ("Flat-Patch-Pw1",),
        ("op=replace", "path=password"),
    ),
    Case(
        "okta-http-request-dump",
        "PUT /scim/v2/Users/00u1a2b3c4 HTTP/1.1\r\n"
        "Host: example.cloudflareaccess.com\r\n"
        f"Authorization: Bearer {JWT}\r\n"
        "User-Agent: Okta SCIM Client 1.0.0\r\n"
        "Cookie: __cf_bm=Cookie-Value-1234; CF_Authorization=Cookie-Value-5678\r\n"
        "X-Api-Key: Header-Api-Key-999\r\n"
        "Content-Type: application/scim+json; charset=utf-8\r\n"
        "\r\n"
        '{"userName":"carol@example.com","password":"Embedded-Json-Pw1"}',
        "headers",
        (JWT, "Cookie-Value-1234", "Cookie-Value-5678", "Header-Api-Key-999", "Embedded-Json-Pw1"),
        ("Authorization: Bearer [REDACTED]", "User-Agent: Okta SCIM Client 1.0.0", "carol@example.com"),
    ),
    Case(
        "header-lines-without-a-request-line",
        "Authorization: SSWS 00Abc-Okta-Api-Token-0123456789\n"
        f"Proxy-Authorization: Basic {BASIC}\n"
        "Set-Cookie: sid=Set-Cookie-Session-1; Path=/; HttpOnly\n"
        "X-Okta-Request-Id: WJcl6rHl3ZzMiDf9bEfDKgAAA9o\n"
        f"X-Debug: forwarded with token={GITHUB}\n",
        "headers",
        ("00Abc-Okta-Api-Token-0123456789", BASIC, "Set-Cookie-Session-1", GITHUB[4:]),
        ("X-Okta-Request-Id: WJcl6rHl3ZzMiDf9bEfDKgAAA9o", "Authorization: SSWS [REDACTED]"),
    ),
    Case(
        "soap-ws-security",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
        "<soap:Header><wsse:Security><wsse:UsernameToken>"
        "<wsse:Username>svc-scim</wsse:Username>"
        '<wsse:Password Type="#PasswordText">Soap-Pass-W0rd</wsse:Password>'
        "</wsse:UsernameToken></wsse:Security></soap:Header>"
        "<soap:Body><CreateUser><Email>erin@example.com</Email>"
        "<ns:ClientSecret><![CDATA[Cdata-Client-Secret-1]]></ns:ClientSecret>"
        "<Note>contact admin, key AIzaSyA-1234567890abcdefghijklmnopqrstu</Note>"
        "</CreateUser></soap:Body></soap:Envelope>",
        "markup",
        ("Soap-Pass-W0rd", "Cdata-Client-Secret-1", GOOGLE),
        ("erin@example.com", "<Email>", "contact admin, key"),
    ),
    Case(
        "saml-attributes-and-html-form",
        '<saml:Assertion><saml:AttributeStatement><saml:Attribute Name="mail">'
        "<saml:AttributeValue>frank@example.com</saml:AttributeValue></saml:Attribute>"
        '<saml:Attribute Name="userPassword"><saml:AttributeValue>Saml-Attr-Pw1</saml:AttributeValue>'
        "</saml:Attribute></saml:AttributeStatement></saml:Assertion>"
        '<form><input type="password" name="pw" value="Html-Input-Pw1">'
        "<user apiKey='Attr-Api-Key-1' id=\"42\"/><secret><secret>Nested-1</secret>Nested-2</secret></form>",
        "markup",
        ("Saml-Attr-Pw1", "Html-Input-Pw1", "Attr-Api-Key-1", "Nested-1", "Nested-2"),
        ("frank@example.com", 'Name="mail"', 'id="42"'),
    ),
    Case(
        "provisioning-log-text",
        "2024-05-06T07:08:09Z INFO provisioning user=alice@example.com\n"
        "2024-05-06T07:08:10Z DEBUG login password=Log-Pass-123 token: Log-Token-456 next\n"
        'curl -H "Authorization: Bearer Curl-Bearer-789xyz" https://scim.example/Users\n'
        f"export AWS_ACCESS_KEY_ID={AWS_KEY_ID}\nexport AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"
        f"slack {SLACK} hook https://hooks.slack.com/services/{SLACK_HOOK}\n"
        f'pat {GITHUB_FINE}\n{PEM}\nsecret="Quoted Secret Value" done\n'
        "git clone https://deploy:Url-Pass-W0rd@git.example.com/idp.git\n",
        "text",
        (
            "Log-Pass-123",
            "Log-Token-456",
            "Curl-Bearer-789xyz",
            AWS_KEY_ID,
            AWS_SECRET,
            SLACK[5:],
            SLACK_HOOK,
            GITHUB_FINE[11:],
            PEM_BODY.split("\n")[1],
            "Quoted Secret Value",
            "Url-Pass-W0rd",
        ),
        (
            "provisioning user=alice@example.com",
            "https://scim.example/Users",
            "-----END RSA PRIVATE KEY-----",
        ),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_shape_is_recognised_and_loses_its_secrets(case: Case) -> None:
    prepared = _prepare(case.body)
    everything = orjson.dumps(prepared)
    leaked = [secret for secret in case.secrets if secret.encode() in everything]
    assert not leaked, prepared["request_body"]
    info = prepared[INFO_KEY]
    assert info["shape"] == case.shape
    assert info["redactions"] >= 1
    assert info["original_bytes"] == len(case.body.encode())
    missing = [text for text in case.kept if text not in prepared["request_body"]]
    assert not missing, prepared["request_body"]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_redacted_body_is_redacted_no_further(case: Case) -> None:
    once = _prepare(case.body)["request_body"]
    again = _prepare(once)
    assert again["request_body"] == once
    if case.shape not in ("json", "headers"):  # a JSON key is counted whenever it is sensitive
        assert again[INFO_KEY]["redactions"] == 0


ORDINARY = [
    (
        "okta-user",
        '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"grace@example.com",'
        '"name":{"givenName":"Grace","familyName":"Hopper"},"active":true,'
        '"meta":{"created":"2024-05-06T07:08:09Z","resourceType":"User"}}',
        "json",
    ),
    (
        "azure-group-members",
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add",'
        '"path":"members","value":[{"value":"5f1c0a7e-0000-4000-8000-00000000a001"}]},'
        '{"op":"Remove","path":"members[value eq \\"2819c223-7f76-453a-919d-413861904646\\"]"}]}',
        "json",
    ),
    ("form", "userName=grace%40example.com&displayName=Grace+Hopper&active=true", "form"),
    ("headers", "Content-Type: application/scim+json\nAccept: */*\nX-Request-Id: 1c2d3e", "headers"),
    ("markup", "<User><userName>grace@example.com</userName><active>true</active></User>", "markup"),
    ("text", "Grace Hopper <grace@example.com> was provisioned: id 00u1a2b3c4, basic information.", "text"),
]


@pytest.mark.parametrize(
    ("body", "shape"), [case[1:] for case in ORDINARY], ids=[case[0] for case in ORDINARY]
)
def test_ordinary_scim_content_is_left_alone(body: str, shape: str) -> None:
    prepared = _prepare(body)
    assert prepared["request_body"] == body
    assert prepared[INFO_KEY]["shape"] == shape
    assert prepared[INFO_KEY]["redactions"] == 0


def test_json_string_values_and_keys_are_searched_by_shape_and_re_encoded() -> None:
    body = orjson.dumps({"note": f"Bearer {JWT}", f"Bearer {GITHUB}": 1, "Bearer [REDACTED]": 2}).decode()
    prepared = _prepare(body)
    # Two keys redacted to the same text keep both their values.
    assert prepared[PARSED_KEY] == {
        "note": "Bearer [REDACTED]",
        "Bearer [REDACTED]": 1,
        "Bearer [REDACTED]#2": 2,
    }
    assert prepared["request_body"] == orjson.dumps(prepared[PARSED_KEY]).decode()
    assert prepared[INFO_KEY]["redactions"] == 2


def test_a_body_of_unknown_shape_can_be_dropped_whole() -> None:
    body = "free text with password=hunter2-drop and more"
    prepared = _prepare(body, unknown_body="drop")
    assert prepared["request_body"] == f"[REDACTED: body of unknown shape dropped, {len(body)} bytes]"
    assert prepared[INFO_KEY] == {
        "original_bytes": len(body),
        "parsed": False,
        "redactions": 1,
        "shape": "text",
        "truncated": False,
    }
    assert _prepare(body)["request_body"] == "free text with password=[REDACTED] and more"


@pytest.mark.parametrize("body", ["", "  \n", '{"password": "x"}', "a=b", "Host: x", "<a>b</a>", "{}}"])
def test_bodies_of_known_shape_and_empty_bodies_are_never_dropped(body: str) -> None:
    prepared = _prepare(body, unknown_body="drop")
    assert "dropped" not in prepared["request_body"]


def test_truncation_happens_after_redaction_so_no_half_secret_is_left() -> None:
    token = "Half-Cut-Token-" + "x" * 60
    body = "a" * 100 + f" Bearer {token} " + "b" * 500
    # Cut at 220 bytes minus the marker: through the middle of where the token was.
    prepared = _prepare(body, max_body_bytes=220)
    text = prepared["request_body"]
    assert prepared[INFO_KEY]["truncated"] is True
    assert len(text.encode()) <= 220
    assert "Half-Cut" not in text
    assert "Bearer [REDACTED] bbb" in text


def test_an_object_body_has_its_strings_searched_too() -> None:
    prepared = prepare_scim_record({"request_body": {"note": f"key {AWS_KEY_ID}", "password": "x"}})
    assert prepared["request_body"] == {"note": f"key {REDACTED}", "password": REDACTED}


@pytest.mark.parametrize(
    "unit",
    [
        "a:\n",  # a header line per 3 bytes
        "a=",  # one enormous form pair
        "<password>x",  # sensitive elements never closed
        '<x name="password">',
        '{"a":',  # broken JSON members
        "eyJeyJ.eyJ.",  # almost-JWTs
        "Bearer ",
        "---a",  # key characters in runs tried once
        "-----BEGIN RSA PRIVATE KEY-----",
        "<![CDATA[",
        '"',
        '\\"password\\": ',
    ],
)
def test_a_five_megabyte_adversarial_body_is_handled(unit: str) -> None:
    body = (unit * (5_000_000 // len(unit) + 1))[:5_000_000]
    prepared = _prepare(body, max_body_bytes=0)
    assert prepared[INFO_KEY]["original_bytes"] == 5_000_000


def test_binary_junk_is_handled() -> None:
    rng = random.Random(17)
    body = bytes(rng.getrandbits(8) for _ in range(1_000_000)).decode("latin-1")
    prepared = _prepare(body)
    assert len(prepared["request_body"].encode()) <= DEFAULT_MAX_BODY_BYTES
    _prepare(body.replace("a", "\ud800"))  # lone surrogates


# -- property: no planted secret survives, whatever the shape -----------------------------------

# Filler is lowercase a-p: it can neither spell a sensitive key (no s, t, r, w, y) nor contain the
# planted secrets, which all start with an uppercase "Zq9".
_FILLER = st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=8)
_ALNUM = string.ascii_letters + string.digits
_SENSITIVE_KEYS = st.sampled_from(
    ["password", "Password", "client_secret", "accessToken", "api_key", "X-Api-Key", "refresh_token"]
)


def _secret(alphabet: str = _ALNUM, size: int = 9) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=size, max_size=size + 24).map(lambda tail: "Zq9" + tail)


@st.composite
def _instances(draw: st.DrawFn, single_line: bool = False) -> tuple[str, list[str]]:
    """A secret of a well-known shape, as planted text and the secret parts that must vanish."""
    value = draw(_secret())
    kinds = [
        "bearer",
        "basic",
        "jwt",
        "github",
        "github_pat",
        "aws_key_id",
        "aws_secret",
        "slack",
        "webhook",
        "google",
        "url",
        "pair",
    ]
    kind = draw(st.sampled_from([*kinds] if single_line else [*kinds, "pem"]))
    if kind == "bearer":
        return f"Bearer {value}", [value]
    if kind == "basic":
        encoded = base64.b64encode(f"alice:{value}".encode()).decode()
        return f"Basic {encoded}", [encoded]
    if kind == "jwt":
        token = f"eyJhbGciOiJIUzI1NiJ9.eyJ{value}.{value}"
        return token, [token, value]
    if kind == "github":
        padded = draw(_secret(size=20))
        return f"ghp_{padded}", [padded]
    if kind == "github_pat":
        padded = draw(_secret(_ALNUM + "_", size=22))
        return f"github_pat_{padded}", [padded]
    if kind == "aws_key_id":
        key = "AKIAZQ9" + draw(
            st.text(alphabet=string.ascii_uppercase + string.digits, min_size=13, max_size=13)
        )
        return key, [key]
    if kind == "aws_secret":
        secret = draw(_secret(_ALNUM + "/+", size=37))
        return f"aws_secret_access_key={secret}", [secret]
    if kind == "slack":
        return f"xoxb-{value}", [value]
    if kind == "webhook":
        return f"https://hooks.slack.com/services/T0AB/B0CD/{value}", [value]
    if kind == "google":
        key = draw(_secret(_ALNUM + "_-", size=32))
        return f"AIza{key}", [f"AIza{key}"]
    if kind == "url":
        return f"https://alice:{value}@git.example.com/repo.git", [value]
    if kind == "pem":
        lines = [draw(_secret(_ALNUM + "+/", size=20)) for _ in range(draw(st.integers(1, 3)))]
        block = "\n".join(lines)
        return f"-----BEGIN PRIVATE KEY-----\n{block}\n-----END PRIVATE KEY-----", lines
    key = draw(_SENSITIVE_KEYS)
    template = draw(st.sampled_from(["{k}={v}", "{k}: {v}", '{k}="{v}"', "{k} = '{v}'"]))
    return template.format(k=key, v=value), [value]


@st.composite
def _sentence(draw: st.DrawFn, single_line: bool = False) -> tuple[str, list[str]]:
    """Filler words with secrets of well-known shapes planted among them."""
    words = draw(st.lists(_FILLER, min_size=1, max_size=4))
    secrets: list[str] = []
    for _ in range(draw(st.integers(0, 2))):
        text, parts = draw(_instances(single_line))
        words.insert(draw(st.integers(0, len(words))), text)
        secrets += parts
    return " ".join(words), secrets


@st.composite
def _json_bodies(draw: st.DrawFn) -> tuple[str, list[str], str]:
    secrets: list[str] = []
    body: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 5))):
        where = draw(st.sampled_from(["filler", "sensitive", "nested", "patch", "sentence"]))
        if where == "filler":
            body[draw(_FILLER)] = draw(_FILLER | st.integers(-(2**53), 2**53) | st.booleans())
        elif where == "sensitive":
            value = draw(_secret())
            body[draw(_SENSITIVE_KEYS)] = value
            secrets.append(value)
        elif where == "nested":
            value = draw(_secret())
            body.setdefault("items", []).append({draw(_FILLER): [{draw(_SENSITIVE_KEYS): value}]})
            secrets.append(value)
        elif where == "patch":
            value = draw(_secret())
            path = draw(st.sampled_from(["password", "urn:ietf:params:scim:schemas:core:2.0:User:password"]))
            body.setdefault("Operations", []).append({"op": "replace", "path": path, "value": value})
            secrets.append(value)
        else:
            text, parts = draw(_sentence())
            body.setdefault("notes", []).append({draw(_FILLER): text})
            secrets += parts
    return orjson.dumps(body).decode(), secrets, "json"


@st.composite
def _form_bodies(draw: st.DrawFn) -> tuple[str, list[str], str]:
    secrets: list[str] = []
    pairs = [f"{draw(_FILLER)}={draw(_FILLER)}"]
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            value = draw(_secret())
            pairs.append(f"{quote_plus(draw(_SENSITIVE_KEYS))}={value}")
            secrets.append(value)
        else:
            text, parts = draw(_sentence())
            pairs.append(f"{draw(_FILLER)}={quote_plus(text)}")
            secrets += parts
    order = draw(st.permutations(pairs))
    return "&".join(order), secrets, "form"


_HEADER_NAMES = _FILLER.map(lambda name: "X-" + name.capitalize())


@st.composite
def _header_bodies(draw: st.DrawFn) -> tuple[str, list[str], str]:
    secrets: list[str] = []
    lines = [f"{draw(_HEADER_NAMES)}: {draw(_FILLER)}"]
    for _ in range(draw(st.integers(1, 4))):
        value = draw(_secret())
        planted = draw(
            st.sampled_from(
                [
                    f"Authorization: Bearer {value}",
                    f"Authorization: {value}",
                    f"X-Api-Key: {value}",
                    f"Cookie: sid={value}; theme=dark",
                    f"Set-Cookie: sid={value}; Path=/",
                    f"X-Auth-Token: {value}",
                    "",
                ]
            )
        )
        if planted:
            lines.append(planted)
            secrets.append(value)
        else:
            text, parts = draw(_sentence(single_line=True))
            lines.append(f"{draw(_HEADER_NAMES)}: {text}")
            secrets += parts
    lines = draw(st.permutations(lines))
    if draw(st.booleans()):
        lines.insert(0, "POST /scim/v2/Users HTTP/1.1")
    body = draw(st.sampled_from(["\r\n", "\n"])).join(lines)
    if draw(st.booleans()):
        value = draw(_secret())
        body += f'\r\n\r\n{{"userName": "{draw(_FILLER)}", "password": "{value}"}}'
        secrets.append(value)
    return body, secrets, "headers"


@st.composite
def _markup_bodies(draw: st.DrawFn) -> tuple[str, list[str], str]:
    secrets: list[str] = []
    elements = [f"<{draw(_FILLER)}>{draw(_FILLER)}</{draw(_FILLER)}>"]
    for _ in range(draw(st.integers(1, 4))):
        value = draw(_secret())
        name = draw(_FILLER)
        planted = draw(
            st.sampled_from(
                [
                    f"<password>{value}</password>",
                    f"<ns:Password>{value}</ns:Password>",
                    f"<ClientSecret><![CDATA[{value}]]></ClientSecret>",
                    f'<{name} apiKey="{value}"/>',
                    f"<{name} password='{value}'>x</{name}>",
                    f'<attribute name="password" value="{value}"/>',
                    f"<accessToken><{name}>{value}</{name}></accessToken>",
                    "",
                ]
            )
        )
        if planted:
            elements.append(planted)
            secrets.append(value)
        else:
            text, parts = draw(_sentence())
            elements.append(f"<{name}>{text}</{name}>")
            secrets += parts
    prolog = draw(st.sampled_from(["", '<?xml version="1.0"?>\n']))
    return prolog + "<root>" + "".join(draw(st.permutations(elements))) + "</root>", secrets, "markup"


@st.composite
def _text_bodies(draw: st.DrawFn) -> tuple[str, list[str], str]:
    # The first line is prose, so that the body is neither a form nor header lines.
    lines = ["scim sync log"]
    secrets: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        text, parts = draw(_sentence())
        lines.append(text)
        secrets += parts
    return "\n".join(lines), secrets, "text"


_BODIES = st.one_of(_json_bodies(), _form_bodies(), _header_bodies(), _markup_bodies(), _text_bodies())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    planted=_BODIES,
    limit=st.sampled_from([0, 200, DEFAULT_MAX_BODY_BYTES]),
    unknown_body=st.sampled_from(["redact", "drop"]),
)
def test_no_planted_secret_of_any_shape_survives(
    planted: tuple[str, list[str], str], limit: int, unknown_body: Any
) -> None:
    body, secrets, shape = planted
    prepared = prepare_scim_record({"request_body": body}, max_body_bytes=limit, unknown_body=unknown_body)
    everything = orjson.dumps(prepared)
    leaked = [secret for secret in secrets if secret.encode() in everything]
    assert not leaked, (leaked, prepared["request_body"])
    assert prepared[INFO_KEY]["shape"] == shape


def test_forwarder_scim_unknown_body_reaches_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    from forwarder.builders import scim_preparer
    from forwarder.settings import Settings

    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "token-0123456789")
    monkeypatch.setenv("FORWARDER_ACCOUNT_IDS", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("FORWARDER_SCIM_UNKNOWN_BODY", "drop")
    prepare = scim_preparer(Settings())
    prepared = prepare({"request_body": "just some words from an identity provider"})
    assert prepared["request_body"].startswith("[REDACTED: body of unknown shape dropped")
