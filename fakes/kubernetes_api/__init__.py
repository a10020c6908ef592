"""A fake Kubernetes API server: only what the forwarder uses, answered as the real one answers it.

Endpoints: ConfigMaps (``/api/v1/namespaces/{ns}/configmaps``) and Leases
(``/apis/coordination.k8s.io/v1/namespaces/{ns}/leases``): get, create (POST), replace (PUT) and
delete (DELETE). As the real API server:

- every write bumps one cluster-wide ``resourceVersion`` (a string); a PUT whose
  ``metadata.resourceVersion`` differs from the stored one answers 409 ``Conflict``, a POST of an
  existing name 409 ``AlreadyExists``, a PUT of a missing object 404 ``NotFound``; errors are
  ``Status`` objects;
- a bearer token is required (401 without one); a token can be made ``forbidden`` (403, as RBAC);
- with ``namespaces`` given, only those exist: a GET there answers 404 for the object, a POST 404
  ``namespaces "x" not found`` (``None``, the default: every namespace exists);
- ConfigMap keys must match ``[-._a-zA-Z0-9]+`` and the whole object stay under 1 MiB (422
  ``Invalid``); Lease times must be MicroTime (RFC 3339 with six fractional digits, 400 otherwise),
  ``leaseDurationSeconds`` positive (422).

Faults, per client (identified by its bearer token, as the API server identifies a pod's service
account token): ``partition(token)`` stops answering that client at all (its requests hang, as
when packets are dropped, so the client times out; or with ``mode="refuse"`` its connections are
dropped at once) until ``heal(token)`` or for ``seconds``; ``latency`` delays every answer (or one
client's); ``conflict_next(count)`` makes the next writes of an object lose a race to an invisible
writer (the stored resourceVersion moves first, so the client must read again). Transient errors on
demand, each consumed by ``count`` matching requests (by method, kind, name and token):
``fail_next`` (a 500, a 503, a 429 with ``Retry-After``...), ``time_out_next`` (no answer: the
request hangs until the client gives up) and ``reset_next`` (the connection drops unanswered).
``delete(plural, namespace, name)`` removes an object, as ``kubectl delete`` would.

Everything is recorded for tests: ``requests`` (time, token, method, path, status, fault),
``writes`` (time, token, kind, name, the object written) and ``deletions``, with ``clock`` (by
default ``time.time()``, so that times compare with the Cloudflare simulator's request log).

Two ways in: over HTTP (:meth:`start`, for real processes) or in-process through
:meth:`transport`, an httpx transport with no sockets. With ``clock`` and ``sleep`` from a virtual
clock, the in-process fake runs entirely in virtual time: latency, hangs and timeouts included.

``server`` holds the fake and its in-process transport, ``objects`` what a valid object is and the
``Status`` answers, ``faults`` what can go wrong and what is recorded.
"""

from fakes.kubernetes_api.faults import Dropped, Fault, GaveUp, PartitionMode, ReceivedRequest, Write
from fakes.kubernetes_api.objects import Answer, JsonObject
from fakes.kubernetes_api.server import FakeKubernetesApi, InProcessTransport

__all__ = [
    "Answer",
    "Dropped",
    "FakeKubernetesApi",
    "Fault",
    "GaveUp",
    "InProcessTransport",
    "JsonObject",
    "PartitionMode",
    "ReceivedRequest",
    "Write",
]
