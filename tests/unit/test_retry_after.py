"""The one ``Retry-After`` parser (RFC 9110 section 10.2.3) against real header values, and each
reader of the header (Cloudflare, Splunk HEC, Elasticsearch, Kubernetes) going through it.

The callers used to parse the header each their own way: Elasticsearch refused "1.5", HEC and
Kubernetes read "-3" as "retry at once", Kubernetes capped at 300 s where the waits are not
computed. The rows below are what all of them now answer.
"""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from forwarder.coordination.api import LEASES, ClusterAccess, KubernetesApi, KubernetesError
from forwarder.retry import MAX_RETRY_AFTER, retry_after
from forwarder.sinks.elasticsearch.classifier import classify_bulk_response
from forwarder.sinks.splunk_hec.classifier import classify
from forwarder.source.client import server_wait

# Wed, 21 Oct 2015 07:20:00 GMT: eight minutes before the RFC's own example date.
NOW = 1_445_412_000.0

TABLE: list[tuple[str | None, float | None]] = [
    # delay-seconds
    ("120", 120.0),
    ("0", 0.0),
    (" 7 ", 7.0),
    # Not in the RFC's grammar, but several servers send a fraction.
    ("1.5", 1.5),
    ("0.25", 0.25),
    # Not capped here: capping at MAX_RETRY_AFTER belongs to whoever computes the wait.
    ("86400", 86400.0),
    ("99999999999999999999", 1e20),
    # So many digits that a float overflows: no usable request.
    ("9" * 400, None),
    # Absent, empty, negative or garbage: the caller's own backoff applies.
    (None, None),
    ("", None),
    ("   ", None),
    ("-3", None),
    ("+5", None),
    ("soon", None),
    ("nan", None),
    ("inf", None),
    ("1e3", None),
    ("1.", None),
    (".5", None),
    ("\u0661\u0662\u0660", None),  # Arabic-Indic digits: float() takes them, the RFC does not
    # HTTP-date: IMF-fixdate, in the future and in the past.
    ("Wed, 21 Oct 2015 07:28:00 GMT", 480.0),
    ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
    # The obsolete forms a recipient must still accept: RFC 850 and asctime.
    ("Wednesday, 21-Oct-15 07:28:00 GMT", 480.0),
    ("Wed Oct 21 07:28:00 2015", 480.0),
    # Zoneless ("-0000") is still GMT.
    ("Wed, 21 Oct 2015 07:28:00 -0000", 480.0),
    # Dates that do not exist.
    ("Wed, 32 Oct 2015 07:28:00 GMT", None),
    ("Wed, 21 Oct 2015 25:28:00 GMT", None),
    ("Wed, 21 Oct 99999 07:28:00 GMT", None),
]

# What can travel in an HTTP header (httpx encodes header values as ASCII).
ON_THE_WIRE = [row for row in TABLE if row[0] is None or row[0].isascii()]
# Of those, the rows whose answer does not depend on the clock, for the callers that read it.
CLOCKLESS = [row for row in ON_THE_WIRE if row[1] != 480.0]


@pytest.mark.parametrize(("value", "seconds"), TABLE)
def test_header_values(value: str | None, seconds: float | None) -> None:
    assert retry_after(value, now=NOW) == seconds


def test_the_rfc_example_date_is_long_past() -> None:
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_a_date_is_measured_from_the_wall_clock_by_default() -> None:
    in_an_hour = email.utils.formatdate(time.time() + 3600, usegmt=True)
    assert retry_after(in_an_hour) == pytest.approx(3600.0, abs=5.0)
    # Far beyond what anyone waits, and still not capped here.
    far = retry_after("Fri, 31 Dec 9999 23:59:59 GMT")
    assert far is not None
    assert far > MAX_RETRY_AFTER


# Cloudflare: only the Retry-After parsing changed; the rate-limit headers keep their rule.


@pytest.mark.parametrize(("value", "seconds"), ON_THE_WIRE)
def test_cloudflare_reads_retry_after_with_the_shared_parser(
    value: str | None, seconds: float | None
) -> None:
    headers = httpx.Headers({} if value is None else {"Retry-After": value})
    assert server_wait(200, headers, now=NOW) == seconds


def test_cloudflare_still_pauses_on_the_reset_only_when_the_budget_is_spent() -> None:
    spent = httpx.Headers({"Retry-After": "soon", "Ratelimit": "r=0;t=40"})
    assert server_wait(200, spent, now=NOW) == 40.0
    assert server_wait(503, httpx.Headers({"Retry-After": "-3", "Ratelimit": "r=9;t=40"}), now=NOW) is None


# Splunk HEC: "-3" used to mean "retry at once"; now it means the ordinary backoff.


@pytest.mark.parametrize(("value", "seconds"), CLOCKLESS)
def test_hec_reads_retry_after_with_the_shared_parser(value: str | None, seconds: float | None) -> None:
    assert classify(429, b"<html>Too Many Requests</html>", retry_after=value).retry_after == seconds


def test_hec_takes_a_negative_retry_after_as_none() -> None:
    assert classify(503, b'{"text":"Server is busy","code":9}', retry_after="-3").retry_after is None


# Elasticsearch: "1.5" used to be refused.


@pytest.mark.parametrize(("value", "seconds"), CLOCKLESS)
def test_elasticsearch_reads_retry_after_with_the_shared_parser(
    value: str | None, seconds: float | None
) -> None:
    answer = classify_bulk_response(429, b"", expected_items=1, retry_after=value)
    assert answer.whole is not None
    assert answer.whole.retry_after == seconds


def test_elasticsearch_takes_a_fractional_retry_after() -> None:
    body = b'{"error":{"type":"es_rejected_execution_exception","reason":"rejected"},"status":429}'
    answer = classify_bulk_response(429, body, expected_items=3, retry_after="1.5")
    assert answer.whole is not None
    assert answer.whole.retry_after == 1.5


# Kubernetes: the error carries the server's request uncapped ("86400" used to become 300 here);
# the leader elector and the backoff cap it where they compute the wait. "-3" used to be 0.


async def _kubernetes_error(value: str | None) -> KubernetesError:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {} if value is None else {"Retry-After": value}
        status = {"kind": "Status", "status": "Failure", "reason": "TooManyRequests", "code": 429}
        return httpx.Response(429, json=status, headers=headers)

    access = ClusterAccess("http://kubernetes.test", "forwarder", None, None)
    api = KubernetesApi(access, transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(KubernetesError) as raised:
            await api.get(LEASES, "cloudflare-siem-forwarder")
    finally:
        await api.close()
    return raised.value


@pytest.mark.parametrize(("value", "seconds"), CLOCKLESS)
async def test_kubernetes_reads_retry_after_with_the_shared_parser(
    value: str | None, seconds: float | None
) -> None:
    error = await _kubernetes_error(value)
    assert error.retryable
    assert error.retry_after == seconds


async def test_kubernetes_keeps_a_long_retry_after_for_the_caller_to_cap() -> None:
    assert (await _kubernetes_error("86400")).retry_after == 86400.0
    assert (await _kubernetes_error("-3")).retry_after is None
