"""``python -m fakes.cloudflare``: run the Cloudflare API simulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from fakes.cloudflare.config import DEFAULT_TOKEN, Credential, RateLimit, SimulatorConfig
from fakes.cloudflare.server import Simulator


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m fakes.cloudflare", description="Serve a fake Cloudflare API v4 (Access logs)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--accounts", nargs="+", default=["023e105f4ecef8ad9ca31a8372d0c353"], help="32-hex account ids"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hours", type=float, default=24.0, help="history before now to generate")
    parser.add_argument("--future-hours", type=float, default=24.0, help="records that appear as time passes")
    parser.add_argument("--access-per-minute", type=float, default=10.0)
    parser.add_argument("--scim-per-minute", type=float, default=2.0)
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the API token the simulator accepts")
    parser.add_argument("--rate-limit", type=int, default=1200, help="requests per period per credential")
    parser.add_argument("--rate-period", type=float, default=300.0)
    parser.add_argument("--rate-block", type=float, default=300.0)
    parser.add_argument("--time-scale", type=float, default=1.0, help="compress rate-limit durations")
    return parser.parse_args(argv)


def config_from(arguments: argparse.Namespace) -> SimulatorConfig:
    now = datetime.now(UTC).replace(microsecond=0)
    return SimulatorConfig(
        accounts=arguments.accounts,
        seed=arguments.seed,
        start=now - timedelta(hours=arguments.hours),
        end=now + timedelta(hours=arguments.future_hours),
        access_per_minute=arguments.access_per_minute,
        scim_per_minute=arguments.scim_per_minute,
        credentials=[Credential(token=arguments.token, label="cli")],
        rate_limit=RateLimit(
            requests=arguments.rate_limit,
            period=arguments.rate_period,
            block=arguments.rate_block,
            time_scale=arguments.time_scale,
        ),
        host=arguments.host,
        port=arguments.port,
    )


async def serve(config: SimulatorConfig) -> None:
    simulator = Simulator(config)
    base_url = await simulator.start()
    print(f"base_url={base_url}", flush=True)
    print(f"token={config.credentials[0].token}", flush=True)
    print(f"control_url={simulator.control_url}", flush=True)
    for account in config.accounts:
        print(f"account={account} scim_idp_ids={','.join(simulator.scim_provider_ids(account))}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stopping.set)
    try:
        await stopping.wait()
    finally:
        await simulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = config_from(parse_arguments(argv))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
