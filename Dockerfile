# syntax=docker/dockerfile:1
# cloudflare-siem-forwarder: the wheel is built in one stage and installed into a virtualenv in the
# runtime stage, which holds no pip, no compiler and no source tree.
#
#   podman build --format docker -t cloudflare-siem-forwarder:0.4.0 .
#   podman run --rm --read-only -v forwarder-state:/var/lib/cloudflare-siem-forwarder \
#     -e CLOUDFLARE_API_TOKEN -e FORWARDER_ACCOUNT_IDS cloudflare-siem-forwarder:0.4.0
#
# `--format docker` keeps the HEALTHCHECK (the OCI image format has no field for it; Docker builds
# that format anyway). BASE_IMAGE is any image with `python3` (>= 3.11) that has the venv module and
# `useradd`: the official slim image by default; CI uses a debootstrapped Debian 12
# (scripts/build-base-image.sh) because it cannot pull from Docker Hub.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# A virtualenv gives every base a pip: Debian's python3 has none of its own.
RUN python3 -m venv /opt/build
WORKDIR /src
# A wheel of every dependency, from constraints-runtime.txt (`make lock`): with --require-hashes pip takes
# only the versions pinned there, refuses any file whose sha256 is not listed beside its version, and
# adds nothing the lock does not name. Binary wheels only: no sdist runs its build code here. This layer
# is rebuilt only when the lock changes.
COPY constraints-runtime.txt ./
RUN /opt/build/bin/pip wheel --no-cache-dir --disable-pip-version-check \
        --require-hashes --only-binary :all: --requirement constraints-runtime.txt --wheel-dir /wheels
# The project's own wheel, without dependencies (they are the ones above). Its build backend
# (pyproject.toml's build-system) is fetched by version range for the build and is not in the image.
COPY pyproject.toml README.md ./
COPY forwarder ./forwarder
COPY fakes ./fakes
RUN /opt/build/bin/pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels .

FROM ${BASE_IMAGE} AS runtime
ARG BASE_IMAGE
ARG VERSION=0.4.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="cloudflare-siem-forwarder" \
      org.opencontainers.image.description="Ships Cloudflare Zero Trust Access authentication and SCIM logs to a SIEM as ECS or OCSF" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# A numeric user, so that Kubernetes can check runAsNonRoot without a passwd lookup; its home is
# the state directory, the only place the forwarder writes (checkpoints, dead letters).
RUN groupadd --gid 10001 forwarder \
    && useradd --uid 10001 --gid 10001 --no-create-home --no-log-init \
        --home-dir /var/lib/cloudflare-siem-forwarder --shell /usr/sbin/nologin forwarder \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/cloudflare-siem-forwarder

# The build stage's pip installs into a virtualenv that has none, from the wheels alone (no index):
# neither pip nor the wheels end up in a layer of this image. The dependencies are checked against the
# lock's hashes again (--require-hashes), then the project goes in with --no-deps, and `pip check` fails
# the build if the lock lacks a dependency that pyproject.toml names. Bytecode is compiled here, because
# the root filesystem is read-only at run time.
RUN --mount=type=bind,from=build,source=/opt/build,target=/opt/build \
    --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,from=build,source=/src/constraints-runtime.txt,target=/tmp/constraints-runtime.txt \
    python3 -m venv --without-pip /opt/cloudflare-siem-forwarder \
    && /opt/build/bin/pip --python /opt/cloudflare-siem-forwarder/bin/python install \
        --no-cache-dir --disable-pip-version-check --no-index --find-links /wheels \
        --require-hashes --requirement /tmp/constraints-runtime.txt \
    && /opt/build/bin/pip --python /opt/cloudflare-siem-forwarder/bin/python install \
        --no-cache-dir --disable-pip-version-check --no-index --find-links /wheels \
        --no-deps "cloudflare-siem-forwarder==${VERSION}" \
    && /opt/build/bin/pip --python /opt/cloudflare-siem-forwarder/bin/python check \
        --disable-pip-version-check

ENV PATH=/opt/cloudflare-siem-forwarder/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FORWARDER_CHECKPOINT_PATH=/var/lib/cloudflare-siem-forwarder/checkpoints.json \
    FORWARDER_DEAD_LETTER_PATH=/var/lib/cloudflare-siem-forwarder/dead-letters.ndjson

# Mount a volume here: with the default file checkpoint store, losing it means starting again at
# FORWARDER_START_AT. `demo` writes its events under out/ in it.
WORKDIR /var/lib/cloudflare-siem-forwarder
USER 10001:10001
# /healthz, /readyz, /status and /metrics on FORWARDER_HEALTH_PORT (default 8080).
EXPOSE 8080

# Python's standard library, so the image needs no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/cloudflare-siem-forwarder/bin/python", "-c", "import os, sys, urllib.request\nport = os.environ.get('FORWARDER_HEALTH_PORT') or '8080'\ntry:\n    urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).close()\nexcept Exception as error:\n    sys.exit(f'unhealthy: {error}')"]

ENTRYPOINT ["/opt/cloudflare-siem-forwarder/bin/cloudflare-siem-forwarder"]
CMD ["run"]
