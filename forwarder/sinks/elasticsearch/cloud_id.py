"""Elastic Cloud ID: ``<label>:<base64 of "<host>[:port]$<es-uuid>[:port]$<kibana-uuid>">``.

The Cloud ID is what the Elastic Cloud console shows for a deployment; the Elasticsearch endpoint
is ``https://<es-uuid>.<host>:<port>``. The port may follow the host or the Elasticsearch id
(the latter wins), and is 443 when neither says.
"""

from __future__ import annotations

import base64
import binascii
import re

_HOST = re.compile(r"^[A-Za-z0-9.-]+$")
_DEFAULT_PORT = 443


class CloudIdError(ValueError):
    """A Cloud ID that does not decode; the message says what is wrong, never echoes the value."""


def _split_port(value: str) -> tuple[str, int | None]:
    name, separator, port = value.rpartition(":")
    if not separator:
        return value, None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CloudIdError(f"port {port!r} is not a number between 1 and 65535")
    return name, int(port)


def decode_cloud_id(cloud_id: str) -> str:
    """The HTTPS URL of the Elasticsearch endpoint a Cloud ID names."""
    text = cloud_id.strip()
    if not text:
        raise CloudIdError("is empty")
    # The label before the first ':' is only for people; base64 never contains ':'.
    encoded = text.split(":", 1)[1] if ":" in text else text
    encoded += "=" * (-len(encoded) % 4)
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise CloudIdError("the part after '<label>:' is not base64 text; copy the Cloud ID again") from None
    parts = decoded.split("$")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise CloudIdError("does not name a host and an Elasticsearch id ('<host>$<es-id>$<kibana-id>')")
    host, host_port = _split_port(parts[0])
    es_id, es_port = _split_port(parts[1])
    if not _HOST.match(host) or not _HOST.match(es_id):
        raise CloudIdError("names a host that is not a DNS name")
    port = es_port or host_port or _DEFAULT_PORT
    return f"https://{es_id}.{host}:{port}"
