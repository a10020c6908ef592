"""Whether an event succeeded: the one rule every format applies (ECS event.outcome, OCSF status,
CEF and LEEF ``outcome`` and event class, the syslog severity).

An access request is allowed or denied (``allowed``, a boolean; absent is not "denied": the
schema's default of false describes a request filter). A SCIM update succeeded or failed by its
``status``: ``SUCCESS`` or ``FAILURE`` in the API's schema, ``ERROR`` in the dashboard's words.
An account audit log says ``action.result``: ``success`` or ``failure`` (the spec's example and the
``action_result`` filter's enum). The API may add values: any other is unknown, never guessed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from forwarder.records import LogType, Record


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


# Each outcome's value as a plain string: an enum's ``.value`` is a Python-level property, and a
# document is built per event.
OUTCOME_TEXT = {outcome: outcome.value for outcome in Outcome}
# `OUTCOME_TEXT[access_outcome(allowed)]` for a boolean ``allowed``, any other value being
# UNKNOWN_TEXT: a lookup for a path that runs per event, where the call and the enum's hash (a
# Python-level method) cost more. Keyed by the type check first: ``1 == True`` would find SUCCESS.
ACCESS_OUTCOME_TEXT = {True: Outcome.SUCCESS.value, False: Outcome.FAILURE.value}
UNKNOWN_TEXT = Outcome.UNKNOWN.value


_SCIM_STATUSES = {"SUCCESS": Outcome.SUCCESS, "FAILURE": Outcome.FAILURE, "ERROR": Outcome.FAILURE}


def access_outcome(allowed: Any) -> Outcome:
    if allowed is True:
        return Outcome.SUCCESS
    if allowed is False:
        return Outcome.FAILURE
    return Outcome.UNKNOWN


def is_scim_status(status: Any) -> bool:
    """Whether ``status`` is one the rule knows; a format keeps any other under its vendor namespace."""
    return isinstance(status, str) and status.upper() in _SCIM_STATUSES


def scim_outcome(status: Any) -> Outcome:
    if isinstance(status, str):
        return _SCIM_STATUSES.get(status.upper(), Outcome.UNKNOWN)
    return Outcome.UNKNOWN


_AUDIT_RESULTS = {"success": Outcome.SUCCESS, "failure": Outcome.FAILURE}


def is_audit_result(result: Any) -> bool:
    """Whether ``result`` is one the rule knows; a format keeps any other under its vendor namespace."""
    return isinstance(result, str) and result.lower() in _AUDIT_RESULTS


def audit_outcome(result: Any) -> Outcome:
    if isinstance(result, str):
        return _AUDIT_RESULTS.get(result.lower(), Outcome.UNKNOWN)
    return Outcome.UNKNOWN


def audit_result(data: Any) -> Any:
    """``action.result`` of an audit log record; None when the record has no such field."""
    action = data.get("action")
    return action.get("result") if isinstance(action, dict) else None


def outcome(record: Record) -> Outcome:
    if record.log_type is LogType.ACCESS_REQUESTS:
        return access_outcome(record.data.get("allowed"))
    if record.log_type is LogType.AUDIT_LOGS:
        return audit_outcome(audit_result(record.data))
    return scim_outcome(record.data.get("status"))
