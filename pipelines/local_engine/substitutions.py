"""`${Placeholder}` substitution, as Step Functions applies DefinitionSubstitutions at deploy time.

moto ignores DefinitionSubstitutions, so the engine renders the definition text itself before
creating the state machine. Like AWS, values replace the placeholder text verbatim.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
GLUE_START_JOB_RUN = "arn:aws:states:::glue:startJobRun"


class UnresolvedPlaceholderError(ValueError):
    """The definition still names placeholders that no substitution provides."""

    def __init__(self, missing: list[str]):
        super().__init__(
            "unresolved placeholders in state machine definition: " + ", ".join("${" + name + "}" for name in missing)
        )
        self.missing = missing


def definition_text(definition: Mapping[str, Any] | str | Path) -> str:
    """The definition's JSON text, from a parsed dict, a JSON string or a file path."""
    if isinstance(definition, Path):
        return definition.read_text(encoding="utf-8")
    if isinstance(definition, str):
        return definition
    return json.dumps(definition)


def placeholders_in(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def render_definition(text: str, substitutions: Mapping[str, str]) -> str:
    """Substitute every `${Name}`; raise `UnresolvedPlaceholderError` naming any left over."""
    missing = sorted(placeholders_in(text) - substitutions.keys())
    if missing:
        raise UnresolvedPlaceholderError(missing)
    rendered = PLACEHOLDER.sub(lambda match: str(substitutions[match.group(1)]), text)
    json.loads(rendered)  # a substitution that breaks the JSON should fail here, not inside moto
    return rendered


def glue_job_names(definition: Mapping[str, Any]) -> set[str]:
    """Literal `JobName`s of every Glue startJobRun task, at any depth (Map, Parallel)."""
    return set(_walk_glue_job_names(definition))


def _walk_glue_job_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        resource = node.get("Resource")
        parameters = node.get("Parameters") or node.get("Arguments")
        if (
            isinstance(resource, str)
            and resource.startswith(GLUE_START_JOB_RUN)
            and isinstance(parameters, dict)
            and isinstance(parameters.get("JobName"), str)
        ):
            yield parameters["JobName"]
        for child in node.values():
            yield from _walk_glue_job_names(child)
    elif isinstance(node, list):
        for child in node:
            yield from _walk_glue_job_names(child)
