"""Access requests made up for pipeline and telemetry tests: distinct ids, a chosen age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from forwarder.records import LogType, Record, make_record

ACCOUNT = "0123456789abcdef0123456789abcdef"


def records(count: int, *, age: timedelta = timedelta(0), start: int = 0) -> list[Record]:
    when = datetime.now(UTC) - age
    return [
        make_record(
            LogType.ACCESS_REQUESTS,
            ACCOUNT,
            {
                "ray_id": f"{index:016x}",
                "created_at": when.isoformat(),
                "user_email": f"u{index}@example.com",
            },
        )
        for index in range(start, start + count)
    ]
