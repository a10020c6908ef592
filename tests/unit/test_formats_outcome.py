"""One outcome rule: every format (ECS, OCSF, CEF, LEEF) and the syslog severity agree on whether
an event succeeded, failed or is unknown, for any record the API can return."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forwarder.formats import encoder_for
from forwarder.formats.ecs import to_ecs
from forwarder.formats.ocsf import to_ocsf
from forwarder.formats.outcome import Outcome, outcome
from forwarder.records import LogType, Record, make_record
from forwarder.sinks.syslog import SyslogSettings, SyslogSink
from forwarder.sinks.syslog.settings import Severity
from tests.support.record_strategies import _records
from tests.support.syslog_parsers import parse_cef, parse_leef

OBSERVED = datetime(2024, 1, 1, tzinfo=UTC)
_OCSF_OUTCOMES = {1: Outcome.SUCCESS, 2: Outcome.FAILURE}
_SINK = SyslogSink(SyslogSettings(host="127.0.0.1"))


def access(**data: Any) -> Record:
    return make_record(LogType.ACCESS_REQUESTS, "account", data, observed=OBSERVED)


def scim(**data: Any) -> Record:
    return make_record(LogType.SCIM_UPDATES, "account", data, observed=OBSERVED)


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (access(allowed=True), Outcome.SUCCESS),
        (access(allowed=False), Outcome.FAILURE),
        (access(allowed=None), Outcome.UNKNOWN),
        (access(allowed="true"), Outcome.UNKNOWN),
        (access(allowed=1), Outcome.UNKNOWN),
        (access(), Outcome.UNKNOWN),
        # The API's two values, and the dashboard's word for a failure.
        (scim(status="SUCCESS"), Outcome.SUCCESS),
        (scim(status="FAILURE"), Outcome.FAILURE),
        (scim(status="ERROR"), Outcome.FAILURE),
        (scim(status="failure"), Outcome.FAILURE),
        # Values Cloudflare does not send are not guessed at.
        (scim(status="OK"), Outcome.UNKNOWN),
        (scim(status="SUCCEEDED"), Outcome.UNKNOWN),
        (scim(status="PENDING"), Outcome.UNKNOWN),
        (scim(status=None, error_description="409 conflict"), Outcome.UNKNOWN),
        (scim(status=1), Outcome.UNKNOWN),
        (scim(), Outcome.UNKNOWN),
    ],
)
def test_outcome_table(record: Record, expected: Outcome) -> None:
    assert outcome(record) is expected


def _every_format(record: Record) -> dict[str, Outcome]:
    """The outcome each format wrote for ``record``, read back from its output."""
    cef = parse_cef(encoder_for("cef")(record).decode())
    leef = parse_leef(encoder_for("leef")(record).decode())
    severity = _SINK.severity(record)
    return {
        "ecs": Outcome(to_ecs(record)["event"]["outcome"]),
        "ocsf": _OCSF_OUTCOMES.get(to_ocsf(record)["status_id"], Outcome.UNKNOWN),
        "cef": Outcome(cef.extension.get("outcome", "unknown")),
        "cef class id": Outcome(cef.header[3].rsplit(".", 1)[1]),
        "leef": Outcome(leef.attributes.get("outcome", "unknown")),
        "leef event id": Outcome(leef.header[3].rsplit(".", 1)[1]),
        "syslog severity": Outcome.FAILURE if severity is Severity.WARNING else Outcome.SUCCESS,
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(LogType)).flatmap(_records))
def test_every_format_agrees_on_the_outcome(case: tuple[Record, dict[str, Any]]) -> None:
    record, _ = case
    expected = outcome(record)
    found = _every_format(record)
    # The syslog severity only tells a failure from the rest.
    severity = found.pop("syslog severity")
    assert severity is (Outcome.FAILURE if expected is Outcome.FAILURE else Outcome.SUCCESS)
    assert found == dict.fromkeys(found, expected)


def test_the_agreement_check_can_fail() -> None:
    # ECS and OCSF once read "OK" as unknown and CEF as success: the check must tell them apart.
    found = _every_format(scim(status="FAILURE"))
    assert set(found.values()) == {Outcome.FAILURE}
    assert _every_format(scim(status="OK"))["cef"] is Outcome.UNKNOWN


@pytest.mark.parametrize("allowed", [True, False, None, 1, 0, 1.0, "true", "false", [], {}])
def test_the_ecs_access_path_looks_the_rule_up_without_changing_it(allowed: Any) -> None:
    # ECS reads ACCESS_OUTCOME_TEXT instead of calling access_outcome: 1 and 0 hash as True and False.
    record = access(allowed=allowed)
    assert to_ecs(record)["event"]["outcome"] == outcome(record).value
