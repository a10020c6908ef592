"""Real syslog receivers (rsyslog, syslog-ng) started by the tests as child processes."""
