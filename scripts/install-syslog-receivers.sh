#!/usr/bin/env bash
# Installs the two real syslog receivers the syslog sink's integration tests run against.
#
# rsyslog and syslog-ng-core conflict as Debian packages (both provide system-log-daemon), so
# rsyslog is installed with apt and syslog-ng-core is unpacked with dpkg-deb into a folder of
# its own; its shared-library dependencies do not conflict and are installed with apt.
# Neither daemon is started or enabled here: the tests start their own on free ports.
#
# Idempotent: running it again only re-checks. Needs root (apt-get).
#   SYSLOG_RECEIVERS_DIR  where syslog-ng is unpacked (default /opt/cloudflare-siem-forwarder/receivers);
#                         tests/receivers/ reads the same variable with the same default.
set -euo pipefail

receivers_dir="${SYSLOG_RECEIVERS_DIR:-/opt/cloudflare-siem-forwarder/receivers}"
syslog_ng_root="$receivers_dir/syslog-ng"

export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
    echo "install-syslog-receivers.sh: run as root (it uses apt-get)" >&2
    exit 1
fi

# rsyslog's maintainer scripts would start a system rsyslogd; a policy-rc.d answering 101
# ("action forbidden") keeps the machine's own logging untouched. Only a file we created is removed.
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=yes
fi
cleanup() {
    if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

apt-get update -qq

# rsyslog with both TLS network stream drivers (gtls and ossl), and the libraries syslog-ng-core
# links against (from `apt-cache depends syslog-ng-core`, minus the init-system packages).
apt-get install -y -qq --no-install-recommends \
    rsyslog rsyslog-gnutls rsyslog-openssl \
    libcap2 libglib2.0-0 libivykis0 libjson-c5 libnet1 libpcre3 libssl3 libsystemd0 libwrap0 \
    >/dev/null

if [ ! -x "$syslog_ng_root/usr/sbin/syslog-ng" ]; then
    download_dir="$(mktemp -d)"
    # apt downloads as the unprivileged _apt user when it can write there.
    if id _apt >/dev/null 2>&1; then chown _apt "$download_dir"; fi
    (cd "$download_dir" && apt-get download -qq syslog-ng-core)
    mkdir -p "$syslog_ng_root"
    dpkg-deb -x "$download_dir"/syslog-ng-core_*.deb "$syslog_ng_root"
    rm -rf "$download_dir"
fi

# Prove both start far enough to parse a config, so a broken install fails here, not in a test.
/usr/sbin/rsyslogd -v | head -n 1
module_dir="$(dirname "$(find "$syslog_ng_root/usr/lib" -name 'libafsocket.so' | head -n 1)")"
LD_LIBRARY_PATH="$syslog_ng_root/usr/lib/x86_64-linux-gnu:$syslog_ng_root/usr/lib/syslog-ng${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$syslog_ng_root/usr/sbin/syslog-ng" --module-path="$module_dir" --version | head -n 1
echo "rsyslog: /usr/sbin/rsyslogd; syslog-ng: $syslog_ng_root/usr/sbin/syslog-ng (modules in $module_dir)"
