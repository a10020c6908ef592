"""``python -m fakes.elasticsearch --port 9200``: the fake served alone (the benchmark does)."""

from __future__ import annotations

import argparse
import asyncio

from fakes.elasticsearch.server import FakeElasticsearch


async def _serve(port: int) -> None:
    # A long benchmark run would otherwise keep every body it was sent.
    async with FakeElasticsearch(port=port, record_requests=False, keep_sources=False) as fake:
        print(f"fake Elasticsearch on {fake.url}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="A protocol-faithful stand-in for Elasticsearch `_bulk`.")
    parser.add_argument("--port", type=int, default=9200)
    asyncio.run(_serve(parser.parse_args().port))
