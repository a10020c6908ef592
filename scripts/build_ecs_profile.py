"""Build forwarder/schemas/ecs_9.4.0_profile.json from Elastic's ecs_flat.yml.

The forwarder ships a compact profile instead of the 2 MB YAML so that the package needs no YAML
parser at run time and the tests can check every emitted field against ECS cheaply.

Run once per ECS release (needs PyYAML, which is not a project dependency):

    python3 scripts/build_ecs_profile.py ../shared/reference/ecs/ecs_flat_9.4.0.yml \
        forwarder/schemas/ecs_9.4.0_profile.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

# The fields whose values ECS restricts; the mapping sets all four.
_RESTRICTED = ("event.kind", "event.category", "event.type", "event.outcome")


def build(flat: dict[str, Any], version: str) -> dict[str, Any]:
    fields = {name: spec["type"] for name, spec in sorted(flat.items())}
    arrays = sorted(name for name, spec in flat.items() if "array" in (spec.get("normalize") or []))
    allowed = {name: [value["name"] for value in flat[name]["allowed_values"]] for name in _RESTRICTED}
    expected = {
        value["name"]: value.get("expected_event_types") or []
        for value in flat["event.category"]["allowed_values"]
    }
    return {
        "ecs_version": version,
        "source": f"elastic/ecs generated/ecs/ecs_flat.yml, tag v{version}",
        "license": "Apache-2.0",
        "fields": fields,
        "array_fields": arrays,
        "allowed_values": allowed,
        "expected_event_types": expected,
    }


def main(argv: list[str]) -> int:
    source, target = Path(argv[1]), Path(argv[2])
    version = source.stem.rsplit("_", 1)[-1]
    flat = yaml.safe_load(source.read_text(encoding="utf-8"))
    profile = build(flat, version)
    target.write_text(json.dumps(profile, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{target}: {len(profile['fields'])} fields from ECS {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
