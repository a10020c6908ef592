"""Helpers for the http sink's tests: a sink set up for each flavour of the fake intake, as a person
following docs/sinks/http.md would set it up."""

from __future__ import annotations

from typing import Any

from fakes.http_intake import FakeIntake, Flavor
from forwarder.sinks.http import HttpSettings, HttpSink

BASIC = ("forwarder", "basic-password-0001")
FLAVORS: tuple[Flavor, ...] = ("datadog", "sumo_logic", "logstash", "vector")


def intake(flavor: Flavor) -> FakeIntake:
    return FakeIntake(flavor, basic=BASIC if flavor in ("logstash", "vector") else None)


def sink_for(fake: FakeIntake, **settings: Any) -> HttpSink:
    values: dict[str, Any] = {"preset": fake.flavor, "url": fake.endpoint}
    if fake.flavor == "datadog":
        values["api_key"] = fake.key
    elif fake.basic is not None:
        values["basic_user"], values["basic_password"] = fake.basic
    values.update(settings)
    return HttpSink(HttpSettings(**values))
