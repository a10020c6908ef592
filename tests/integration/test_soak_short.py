"""The soak of benchmarks/soak.py, short: random faults for a while, then every event accounted for."""

from __future__ import annotations

from pathlib import Path

from tests.support.soak import soak


def test_a_short_soak_under_random_faults_loses_nothing(tmp_path: Path) -> None:
    report = soak(duration=25, rate=20, seed=11, folder=tmp_path)
    assert report.exit_code == 0
    assert report.records_due > 1000
    assert report.lost == 0, report
    # Elasticsearch is idempotent by id: replays after resets and outages answer 409.
    assert report.elasticsearch_duplicates == 0
    assert sum(report.faults.values()) >= 3
