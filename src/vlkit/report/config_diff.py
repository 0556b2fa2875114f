"""The config keys whose values differ between the runs of a report."""

from __future__ import annotations

from typing import Any

ABSENT = None


def config_differences(configs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Flattened configs (dotted keys), one per run -> {key: [value of each run]} for the keys whose values are
    not all equal (a key missing from a run counts as different, and its value there is None); keys sorted.
    One config, or none, has no differences."""
    if len(configs) < 2:
        return {}
    keys = sorted({key for config in configs for key in config})
    differences = {}
    for key in keys:
        present = [key in config for config in configs]
        values = [config.get(key, ABSENT) for config in configs]
        if not all(present) or any(value != values[0] for value in values[1:]):
            differences[key] = values
    return differences
