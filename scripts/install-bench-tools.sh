#!/usr/bin/env bash
# Installs what `python -m benchmarks.e2e` needs beyond scripts/install-syslog-receivers.sh:
# syslog-ng's HTTP destination (syslog-ng-mod-http, the peer that sends to the fake HEC and the
# fake _bulk), unpacked beside syslog-ng-core, and the libcurl it links against.
#
# Idempotent. Needs root (apt-get). Run scripts/install-syslog-receivers.sh first.
#   SYSLOG_RECEIVERS_DIR  where syslog-ng is unpacked (default /opt/cloudflare-siem-forwarder/receivers)
# py-spy (the profiler) is a Python package: `.venv/bin/pip install "py-spy>=0.4"`.
set -euo pipefail

receivers_dir="${SYSLOG_RECEIVERS_DIR:-/opt/cloudflare-siem-forwarder/receivers}"
syslog_ng_root="$receivers_dir/syslog-ng"
export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
    echo "install-bench-tools.sh: run as root (it uses apt-get)" >&2
    exit 1
fi
if [ ! -x "$syslog_ng_root/usr/sbin/syslog-ng" ]; then
    echo "install-bench-tools.sh: syslog-ng is not unpacked in $syslog_ng_root;" \
        "run scripts/install-syslog-receivers.sh first" >&2
    exit 1
fi

if ! compgen -G "$syslog_ng_root/usr/lib/syslog-ng/3.*/libhttp.so" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends libcurl4 >/dev/null
    download_dir="$(mktemp -d)"
    if id _apt >/dev/null 2>&1; then chown _apt "$download_dir"; fi
    (cd "$download_dir" && apt-get download -qq syslog-ng-mod-http)
    dpkg-deb -x "$download_dir"/syslog-ng-mod-http_*.deb "$syslog_ng_root"
    rm -rf "$download_dir"
fi
echo "syslog-ng HTTP destination: $(ls "$syslog_ng_root"/usr/lib/syslog-ng/3.*/libhttp.so)"
