"""The syslog sink: RFC 5424 / RFC 3164 messages with JSON, CEF or LEEF payloads over UDP, TCP or TLS.

``settings`` holds the settings, ``message`` the two message formats, ``cef`` and ``leef`` the two
SIEM payloads, ``framing`` the wire framing and UDP size limit, ``transport`` and ``tls`` the
sockets, ``sink`` the Sink that ties them together.
"""

from forwarder.sinks.syslog.settings import SyslogSettings
from forwarder.sinks.syslog.sink import SyslogSink

__all__ = ["SyslogSettings", "SyslogSink"]
