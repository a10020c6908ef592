"""The syslog sink: encodes each event as one syslog message and sends it over UDP, TCP or TLS."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from forwarder.formats import Format, encoder_for
from forwarder.formats.key_value import DEFAULT_OPTIONS, KeyValueOptions
from forwarder.formats.outcome import Outcome, outcome
from forwarder.formats.values import flat_text
from forwarder.records import Record
from forwarder.sinks.base import Event, Rejection, RetryableError, SendResult, Sink, SinkSettings
from forwarder.sinks.syslog import tls
from forwarder.sinks.syslog.framing import fit_datagram, frame
from forwarder.sinks.syslog.message import (
    SyslogMessage,
    format_3164,
    format_5424,
    message_body,
    prival,
    structured_data_element,
)
from forwarder.sinks.syslog.settings import SEVERITY_TO_TEN, Severity, SyslogSettings, parse_delimiter
from forwarder.sinks.syslog.transport import FrameTooLarge, SendFailed, StreamSender, UdpSender

logger = logging.getLogger(__name__)

# How long `check` listens on a new connection for the receiver to refuse it.
CHECK_LISTEN_SECONDS = 0.5

# The record fields copied into the structured data element, per log type, after the ids.
SD_FIELDS = {
    "access_requests": (
        "user_email",
        "ip_address",
        "app_domain",
        "app_uid",
        "action",
        "allowed",
        "connection",
        "ray_id",
    ),
    "scim_updates": (
        "resource_type",
        "request_method",
        "status",
        "resource_user_email",
        "resource_group_name",
        "idp_id",
        "idp_resource_id",
        "cf_resource_id",
        "error_description",
    ),
    # Audit logs nest their fields: a dotted name walks into the object.
    "audit_logs": (
        "id",
        "action.type",
        "action.result",
        "action.description",
        "actor.type",
        "actor.email",
        "actor.id",
        "actor.ip_address",
        "resource.product",
        "resource.type",
        "resource.id",
        "raw.cf_ray_id",
    ),
}


def _field(data: Mapping[str, Any], name: str) -> Any:
    value: Any = data
    for part in name.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class SyslogSink(Sink):
    name = "syslog"
    settings_model = SyslogSettings

    def __init__(self, settings: SinkSettings) -> None:
        super().__init__(settings)
        assert isinstance(settings, SyslogSettings)
        self.syslog_settings = settings
        self.hostname = settings.hostname or socket.gethostname()
        self.procid = str(os.getpid())
        # CEF and LEEF rank an event by the syslog severities a person configured, and LEEF
        # separates attributes with the configured delimiter.
        self.options = KeyValueOptions(
            failure_severity=SEVERITY_TO_TEN[settings.severity_failure],
            other_severity=SEVERITY_TO_TEN[settings.severity_success],
            leef_delimiter=parse_delimiter(settings.leef_delimiter),
        )
        # The pipeline encodes every format once, with the default options; a CEF or LEEF payload
        # with other options is written here instead (the pipeline keys its encodings by format).
        self._own_encoder: Callable[[Record], bytes] | None = None
        if settings.payload != "json" and self.options != DEFAULT_OPTIONS:
            self._own_encoder = encoder_for(settings.payload, self.options)
        # Messages cut to fit udp_max_message_size since start: exported so a person can see loss.
        self.truncated_messages = 0
        self._udp: UdpSender | None = None
        self._stream: StreamSender | None = None
        # One connection carries every batch: with the pipeline's concurrency above 1, sends take
        # turns, so two batches never race to connect or interleave on the socket.
        self._sending = asyncio.Lock()

    @property
    def format(self) -> Format:
        """The payload setting chooses the format: a JSON document in ``format``, or a CEF or LEEF line."""
        payload = self.syslog_settings.payload
        return self.settings.format if payload == "json" else payload

    # -- encoding ---------------------------------------------------------------------------------

    def severity(self, record: Record) -> Severity:
        if outcome(record) is Outcome.FAILURE:
            return self.syslog_settings.severity_failure
        return self.syslog_settings.severity_success

    def payload(self, event: Event) -> bytes:
        """The message's content as UTF-8: the event's bytes as the pipeline encoded them."""
        if self._own_encoder is not None:
            return self._own_encoder(event.record)
        return event.body

    def structured_data(self, record: Record) -> str:
        settings = self.syslog_settings
        if not settings.structured_data:
            return ""
        params = [("event_id", record.event_id), ("log_type", record.log_type.value)]
        if record.account_id:
            params.append(("account_id", record.account_id))
        for name in SD_FIELDS[record.log_type.value]:
            value = flat_text(_field(record.data, name))
            if value is not None:
                params.append((name, value))
        return structured_data_element(settings.sd_id, params)

    def message(self, event: Event) -> SyslogMessage:
        settings = self.syslog_settings
        severity = self.severity(event.record)
        pri = prival(settings.facility, severity)
        payload = self.payload(event)
        if settings.rfc == "3164":
            return format_3164(
                pri=pri,
                moment=event.time,
                hostname=self.hostname,
                app_name=settings.app_name,
                procid=self.procid,
                body=payload,
            )
        return format_5424(
            pri=pri,
            moment=event.time,
            hostname=self.hostname,
            app_name=settings.app_name,
            procid=self.procid,
            msgid=event.log_type.value,
            structured_data=self.structured_data(event.record),
            body=message_body(payload, settings.bom),
        )

    # -- sending ----------------------------------------------------------------------------------

    async def open(self) -> None:
        settings = self.syslog_settings
        if settings.transport == "udp":
            self._udp = UdpSender(settings.host, settings.effective_port, settings.timeout)
            return
        context = tls.client_context(settings) if settings.transport == "tls" else None
        self._stream = StreamSender(
            settings.host,
            settings.effective_port,
            settings.timeout,
            ssl_context=context,
            server_name=settings.server_name if context is not None else None,
        )

    async def send(self, batch: Sequence[Event]) -> SendResult:
        async with self._sending:
            if self._udp is None and self._stream is None:
                await self.open()
            if self._udp is not None:
                return await self._send_datagrams(self._udp, batch)
            assert self._stream is not None
            return await self._send_stream(self._stream, batch)

    async def _send_stream(self, stream: StreamSender, batch: Sequence[Event]) -> SendResult:
        framing = self.syslog_settings.framing
        frames = [frame(self.message(event).encode(), framing) for event in batch]
        try:
            await stream.send(frames)
        except SendFailed as failure:
            raise self._failure(failure.error, stream.closed_because) from failure.error
        return SendResult()

    async def _send_datagrams(self, udp: UdpSender, batch: Sequence[Event]) -> SendResult:
        result = SendResult()
        limit = self.syslog_settings.udp_max_message_size
        for position, event in enumerate(batch):
            message = self.message(event)
            fitted = fit_datagram(message, limit)
            if fitted is None:
                result.rejected.append(Rejection(event, self._too_long(message, limit)))
                continue
            datagram, truncated = fitted
            try:
                await udp.send(datagram)
            except FrameTooLarge as error:
                result.rejected.append(
                    Rejection(event, f"the network refused a {len(datagram)}-byte datagram: {error}")
                )
                continue
            except (OSError, TimeoutError) as error:
                # The datagrams before this one were handed to the kernel; only the rest is retried.
                result.retry.extend(batch[position:])
                result.retry_reason = self._network_reason(error)
                return result
            if truncated:
                self.truncated_messages += 1
                logger.warning(
                    "syslog: event %s cut from %d to %d bytes to fit FORWARDER_SYSLOG__UDP_MAX_MESSAGE_SIZE",
                    event.event_id,
                    len(message),
                    len(datagram),
                )
        return result

    def _too_long(self, message: SyslogMessage, limit: int) -> str:
        return (
            f"the syslog header alone is {len(message.head)} bytes, more than "
            f"FORWARDER_SYSLOG__UDP_MAX_MESSAGE_SIZE={limit}; raise it or shorten FORWARDER_SYSLOG__HOSTNAME"
        )

    def _network_reason(self, error: BaseException) -> str:
        settings = self.syslog_settings
        where = f"{settings.transport}://{settings.host}:{settings.effective_port}"
        if isinstance(error, TimeoutError):
            return f"syslog {where}: no progress within {settings.timeout} s"
        return f"syslog {where}: {tls.describe(error)}"

    def _failure(self, error: BaseException, closed_because: BaseException | None) -> Exception:
        """RetryableError for the network, SinkConfigError for a TLS problem a person must fix."""
        if self.syslog_settings.transport == "tls":
            for cause in (error, closed_because):
                if cause is not None and (problem := tls.config_error(cause, self.syslog_settings)):
                    return problem
        return RetryableError(self._network_reason(error))

    async def check(self) -> None:
        """Connect (and for TLS, handshake) once, so `check` reports an unreachable receiver."""
        await self.open()
        if self._udp is not None:
            try:
                await self._udp.connect()
            except OSError as error:
                raise RetryableError(self._network_reason(error)) from error
            return
        assert self._stream is not None
        try:
            await self._stream.connect()
        except (OSError, TimeoutError, ssl.SSLError) as error:
            raise self._failure(error, None) from error
        # A receiver that refuses our client certificate says so only after the TLS 1.3 handshake
        # has completed on our side: listen briefly for its alert (or its closing the connection).
        closed, cause = await self._stream.listen(CHECK_LISTEN_SECONDS)
        await self._stream.aclose()
        if not closed:
            return
        problem = tls.config_error(cause, self.syslog_settings) if cause is not None else None
        if problem is None and self.syslog_settings.transport == "tls":
            # GnuTLS receivers (rsyslog) hang up without an alert when they refuse a client.
            problem = tls.closed_after_handshake(self.syslog_settings)
        if problem is not None:
            raise problem
        reset = ConnectionResetError("the receiver closed the connection right after it was opened")
        raise RetryableError(self._network_reason(cause or reset))

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._stream is not None:
            await self._stream.aclose()

    def describe(self) -> str:
        settings = self.syslog_settings
        return (
            f"syslog {settings.transport}://{settings.host}:{settings.effective_port} "
            f"(RFC {settings.rfc}, {settings.payload}, {settings.format})"
        )
