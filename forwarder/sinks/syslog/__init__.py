"""The syslog sink: RFC 5424 / RFC 3164 messages with JSON, CEF or LEEF payloads over UDP, TCP or TLS.

``settings`` holds the settings, ``message`` the two message formats, ``framing`` the wire framing
and UDP size limit, ``transport`` and ``tls`` the sockets, ``sink`` the Sink that ties them
together. The CEF and LEEF payloads are formats like any other (:mod:`forwarder.formats`): the
pipeline encodes them, and the sink frames the bytes.
"""

from forwarder.sinks.syslog.settings import SyslogSettings
from forwarder.sinks.syslog.sink import SyslogSink

__all__ = ["SyslogSettings", "SyslogSink"]
