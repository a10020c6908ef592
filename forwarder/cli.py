"""The command line: run, once, check, demo, map, env-reference.

Exit codes: 0 done; 1 unexpected failure; 2 invalid configuration or usage; 3 Cloudflare refused
the credentials or a permission; 4 a sink stopped on a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from forwarder import __version__
from forwarder.checkpoints.file import CheckpointFileError
from forwarder.coordination.errors import KubernetesConfigurationError
from forwarder.logs import config_summary, configure, forwarding_stream
from forwarder.pipeline.fan_out import SinkStopped
from forwarder.records import LogType
from forwarder.scrubbing import Scrubber
from forwarder.settings import Config, ConfigurationError, load_config
from forwarder.settings.known_names import unknown_variables
from forwarder.source.errors import CloudflareError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings

    from forwarder.app import Forwarder
    from forwarder.telemetry import Telemetry

log = logging.getLogger("forwarder")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_CLOUDFLARE = 3
EXIT_SINK = 4


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="cloudflare-siem-forwarder",
        description="Ships Cloudflare Access authentication and SCIM logs to a SIEM. "
        "Configured by environment variables (see the README).",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="poll every stream forever")
    commands.add_parser("once", help="catch every stream up to now, then exit")
    commands.add_parser("check", help="validate the configuration, reach Cloudflare and every sink")
    demo = commands.add_parser("demo", help="run `once` against the built-in simulator into a local file")
    demo.add_argument("--output", default="out/demo-events.ndjson", help="where the events go")
    demo.add_argument("--hours", type=float, default=6.0, help="hours of simulated history to read")
    demo.add_argument("--format", choices=["raw", "ecs", "ocsf"], default=None, help="output format")
    mapping = commands.add_parser("map", help="map records from a file or stdin to NDJSON on stdout")
    mapping.add_argument("--format", choices=["raw", "ecs", "ocsf", "asim"], required=True)
    mapping.add_argument("--log-type", choices=[log_type.value for log_type in LogType], required=True)
    mapping.add_argument("--account-id", default="", help="account id to put in the events")
    mapping.add_argument("input", nargs="?", default="-", help="file to read; `-` (default) is stdin")
    replay = commands.add_parser("replay-dlq", help="send dead-lettered events again to their sinks")
    replay.add_argument("--sink", action="append", default=[], help="only this sink (repeatable)")
    reference = commands.add_parser("env-reference", help="print the environment variable reference")
    reference.add_argument(
        "--update",
        "--update-readme",
        dest="update",
        type=Path,
        help="rewrite the reference block of this page (docs/configuration.md)",
    )
    return root


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    command: str = arguments.command
    if command == "env-reference":
        return env_reference(arguments.update)
    if command == "map":
        return map_records(arguments)
    if command == "demo":
        # The demo's summary is on standard output; its log lines stay out of the way, readable.
        configure("INFO", fmt="text")
        from forwarder.demo import run_demo

        return run_demo(Path(arguments.output), hours=arguments.hours, fmt=arguments.format)
    try:
        config = load_config()
    except ConfigurationError as error:
        configure("INFO")
        # A misspelt name is often why a variable is "required": name the closest known one too.
        hints = "".join(f"\n  - {problem}" for problem in unknown_variables(os.environ))
        print(f"cloudflare-siem-forwarder: {error}{hints}", file=sys.stderr)
        return EXIT_CONFIG
    settings = config.settings
    scrubber = Scrubber.from_config(config)
    if command in ("run", "once"):
        configure(
            settings.log_level, fmt=settings.log_format, stream=forwarding_stream(config), scrubber=scrubber
        )
    else:
        # Standard output is the command's result (`check` lines, `replay-dlq` counts).
        configure(settings.log_level, fmt=settings.log_format, stream=sys.stderr, scrubber=scrubber)
    if command == "check":
        from forwarder.check import run_check

        try:
            return asyncio.run(run_check(config))
        except ConfigurationError as error:
            print(f"cloudflare-siem-forwarder: {error}", file=sys.stderr)
            return EXIT_CONFIG
    if command == "replay-dlq":
        return replay_dead_letters(config, arguments.sink)
    for problem in unknown_variables(os.environ, configured=configured_models(config)):
        log.warning(problem)
    return forward(config, until_caught_up=command == "once")


def configured_models(config: Config) -> list[type[BaseSettings]]:
    """The chosen sinks' settings models: the variables they read are known without importing the others."""
    return [sink.sink_class.settings_model for sink in config.sinks]


def forward(config: Config, *, until_caught_up: bool) -> int:
    """``run`` and ``once``: the exit code says why it stopped."""
    from forwarder.garbage_collection import tune_for_throughput
    from forwarder.telemetry.exporters import telemetry_from_environment

    settings = config.settings
    # A signal that comes before the event loop's handlers are in place still stops gracefully.
    early = EarlySignals()
    telemetry = telemetry_from_environment(prometheus=settings.health_port != 0)
    try:
        forwarder = build_forwarder(config, telemetry)
    except (KubernetesConfigurationError, ConfigurationError) as error:
        print(f"cloudflare-siem-forwarder: {error}", file=sys.stderr)
        telemetry.shutdown()
        return EXIT_CONFIG
    log.info(
        "starting",
        extra={
            "version": __version__,
            "mode": "once" if until_caught_up else "run",
            "accounts": len(config.settings.account_ids),
            "streams": len(forwarder.streams),
            "sinks": ", ".join(sink.describe() for sink in forwarder.pipeline.sinks),
        },
    )
    log.info("configuration", extra={"settings": config_summary(config)})
    tune_for_throughput()
    try:
        stopped = asyncio.run(serve_and_run(forwarder, until_caught_up=until_caught_up, early=early))
    except BaseException as error:  # every way out gets its exit code and its words
        return exit_code_saying_why(error, config)
    finally:
        telemetry.shutdown()
    if stopped:
        log.info("stopped by a signal", extra={"events": dict(forwarder.totals())})
        return EXIT_OK
    log.info("caught up", extra={"events": dict(forwarder.totals())})
    return EXIT_OK


def build_forwarder(config: Config, telemetry: Telemetry) -> Forwarder:
    """The forwarder of ``run``/``once``, campaigning for its Lease with FORWARDER_LEADER_ELECTION."""
    from forwarder.app import Forwarder, Parts

    leadership = None
    if config.settings.leader_election:
        from forwarder.coordination import leader_elector

        leadership = leader_elector(config.settings)
    return Forwarder.build(config, Parts(telemetry=telemetry, leadership=leadership))


async def serve_and_run(forwarder: Forwarder, *, until_caught_up: bool, early: EarlySignals) -> bool:
    """Run with the signal handlers in place and the health endpoints served; True when stopped."""
    from forwarder.stopping import install_signal_handlers

    task = asyncio.current_task()
    assert task is not None
    stop = asyncio.Event()
    install_signal_handlers(stop, task)
    if early.received:
        stop.set()
    settings = forwarder.settings
    if settings.health_port == 0:
        await forwarder.run(until_caught_up=until_caught_up, stop=stop)
        return stop.is_set()
    from forwarder.telemetry.health import serve_endpoints

    async with serve_endpoints(
        forwarder, forwarder.telemetry, host=settings.health_address, port=settings.health_port
    ):
        await forwarder.run(until_caught_up=until_caught_up, stop=stop)
    return stop.is_set()


def exit_code_saying_why(error: BaseException, config: Config) -> int:
    code = exit_code_for(error)
    if code != EXIT_OK and forwarding_stream(config) is not sys.stderr:
        # Logs went to standard output: the reason the process ended also goes where a person
        # looks first, as the configuration errors do.
        scrubber = Scrubber.from_config(config)
        for leaf in leaves(error):
            print(f"cloudflare-siem-forwarder: {scrubber.text(str(leaf))}", file=sys.stderr)
    if code == EXIT_CLOUDFLARE:
        # Last, as the conclusion: whether the token itself is the problem.
        judge_the_token(config, say=forwarding_stream(config) is not sys.stderr)
    return code


def judge_the_token(config: Config, *, say: bool) -> None:
    """After Cloudflare refused the credentials: is the token itself bad? A 403 cannot say."""
    from forwarder.builders import make_client
    from forwarder.source.token_verification import verify_token

    async def verdict() -> str:
        client = make_client(config.settings, attempts=2)
        try:
            found = await verify_token(client, config.settings.account_ids)
        except CloudflareError:
            return ""
        finally:
            await client.close()
        return "" if found.usable else found.message

    message = asyncio.run(verdict())
    if message:
        log.error("the Cloudflare API token cannot work", extra={"reason": message})
        if say:
            print(f"cloudflare-siem-forwarder: {message}", file=sys.stderr)


def replay_dead_letters(config: Config, only: list[str]) -> int:
    from forwarder.pipeline.replay import replay

    try:
        report = asyncio.run(replay(config, only))
    except BaseException as error:  # the same exit codes as `run`
        return exit_code_for(error)
    for sink, count in sorted(report.sent.items()):
        print(f"{sink}: {count} events sent again (any rejected again are back in the dead letters)")
    if report.kept:
        print(
            f"{report.kept} lines kept in the dead letters ({report.unreadable} unreadable, the rest for "
            "sinks not configured now)"
        )
    if not report.files:
        print("no dead letters to replay")
    return EXIT_OK


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, as the streams' task group raises them."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


class EarlySignals:
    """SIGTERM and SIGINT noted from process start until the event loop takes them over."""

    def __init__(self) -> None:
        self.received = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._note)

    def _note(self, signum: int, frame: object) -> None:
        self.received = True


def exit_code_for(error: BaseException) -> int:
    found = leaves(error)
    if any(isinstance(leaf, asyncio.CancelledError | KeyboardInterrupt) for leaf in found):
        log.info("stopped by a signal; the uncommitted window will be read again at the next start")
        return EXIT_OK
    codes = []
    for leaf in found:
        if isinstance(leaf, CloudflareError):
            log.error("Cloudflare refused a request", extra={"reason": str(leaf)})
            codes.append(EXIT_CLOUDFLARE)
        elif isinstance(leaf, SinkStopped):
            log.error("a sink stopped", extra={"reason": str(leaf)})
            codes.append(EXIT_SINK)
        elif isinstance(leaf, CheckpointFileError):
            log.error("cannot use the checkpoint file", extra={"reason": str(leaf)})
            codes.append(EXIT_CONFIG)
        elif isinstance(leaf, KubernetesConfigurationError):
            log.error("cannot use the Kubernetes API", extra={"reason": str(leaf)})
            codes.append(EXIT_CONFIG)
        else:
            log.error("unexpected failure", exc_info=leaf)
            codes.append(EXIT_FAILURE)
    return min(codes)


def map_records(arguments: argparse.Namespace) -> int:
    from forwarder.map_command import run_map
    from forwarder.records import LogType

    try:
        source = sys.stdin.buffer if arguments.input == "-" else Path(arguments.input).open("rb")  # noqa: SIM115
    except OSError as error:
        print(f"cloudflare-siem-forwarder: cannot read {arguments.input}: {error.strerror}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return run_map(
            arguments.format,
            LogType(arguments.log_type),
            source,
            sys.stdout.buffer,
            sys.stderr,
            account_id=arguments.account_id,
        )
    finally:
        if source is not sys.stdin.buffer:
            source.close()


def env_reference(readme: Path | None) -> int:
    from forwarder.env_reference import reference, update_page

    if readme is None:
        sys.stdout.write(reference())
        return EXIT_OK
    changed = update_page(readme)
    print(f"{readme}: {'updated' if changed else 'already up to date'}", file=sys.stderr)
    return EXIT_OK
