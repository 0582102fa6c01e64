"""Reading checked-in state-machine definitions: their `${Placeholder}`s and their service integrations.

The state-machine role's permissions are derived from the Task states a definition really has, so a
new pipeline that calls a new service fails loudly here instead of failing at run time on AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def load_definition(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def placeholders(definition: dict[str, Any]) -> set[str]:
    """Every `${Name}` used anywhere in the definition."""
    return set(PLACEHOLDER.findall(json.dumps(definition)))


def iter_states(states: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """All states, including those nested in Map (Iterator/ItemProcessor) and Parallel branches."""
    for name, state in states.items():
        yield name, state
        for nested_key in ("Iterator", "ItemProcessor"):
            if nested_key in state:
                yield from iter_states(state[nested_key]["States"])
        for branch in state.get("Branches", []):
            yield from iter_states(branch["States"])


def task_resources(definition: dict[str, Any]) -> set[str]:
    """The `Resource` ARNs of every Task state, with the `.sync`/`.waitForTaskToken` suffixes kept."""
    return {state["Resource"] for _, state in iter_states(definition["States"])
            if state.get("Type") == "Task" and "Resource" in state}


def integration_of(resource_arn: str) -> str:
    """`arn:aws:states:::glue:startJobRun.sync` → `glue:startJobRun` (service and API, no pattern)."""
    prefix = "arn:aws:states:::"
    if not resource_arn.startswith(prefix):
        raise ValueError(f"not an optimized service integration ARN: {resource_arn!r}")
    return resource_arn[len(prefix):].split(".", 1)[0]


def is_sync(resource_arn: str) -> bool:
    return ".sync" in resource_arn
