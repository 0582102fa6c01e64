"""Reading Amazon States Language definitions: the one place that walks their states.

Everything that looks inside a checked-in state machine goes through here: the validator's rules,
the local engine's `${Placeholder}` substitution and Glue job discovery, the deploy's IAM statements
and DefinitionSubstitutions, and the tests. A definition nests `States` maps in a Map's
`ItemProcessor` (or the older `Iterator`) and in a Parallel's `Branches`; `scopes` visits each of
them once, with the state that encloses it, and every other reader builds on that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
SERVICE_INTEGRATION = "arn:aws:states:::"
GLUE_START_JOB_RUN = SERVICE_INTEGRATION + "glue:startJobRun"
SNS_PUBLISH = SERVICE_INTEGRATION + "sns:publish"
CATCH_ALL = "States.ALL"

State = dict[str, Any]


class UnresolvedPlaceholderError(ValueError):
    """A definition names `${Placeholder}`s that no substitution provides (`missing` lists them)."""

    def __init__(self, missing: list[str], message: str | None = None):
        super().__init__(message or "unresolved placeholders in state machine definition: "
                         + ", ".join("${" + name + "}" for name in missing))
        self.missing = missing


# -- the text: loading and placeholders ----------------------------------------------------------------

def definition_text(definition: Mapping[str, Any] | str | Path) -> str:
    """The definition's JSON text, from a parsed dict, a JSON string or a file path."""
    if isinstance(definition, Path):
        return definition.read_text(encoding="utf-8")
    if isinstance(definition, str):
        return definition
    return json.dumps(definition)


def placeholders(definition: Mapping[str, Any] | str) -> set[str]:
    """Every `${Name}` used anywhere in the definition (parsed or as text)."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    return set(PLACEHOLDER.findall(text))


def substitute(text: str, value_of: Callable[[str], Any]) -> str:
    """Every `${Name}` replaced verbatim by `value_of(Name)`, as Step Functions applies DefinitionSubstitutions."""
    return PLACEHOLDER.sub(lambda match: str(value_of(match.group(1))), text)


def render_definition(text: str, substitutions: Mapping[str, Any]) -> str:
    """Substitute every `${Name}`; raise `UnresolvedPlaceholderError` naming any left over."""
    missing = sorted(placeholders(text) - substitutions.keys())
    if missing:
        raise UnresolvedPlaceholderError(missing)
    rendered = substitute(text, substitutions.__getitem__)
    json.loads(rendered)  # a substitution that breaks the JSON should fail here, not inside moto
    return rendered


def placeholder_name(value: str) -> str | None:
    """`Name` when the whole value is one `${Name}`, else None."""
    match = PLACEHOLDER.fullmatch(value)
    return match.group(1) if match else None


# -- the states: nesting -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """One `States` map: the top level, a Map's ItemProcessor/Iterator, or a Parallel branch."""

    states: dict[str, State]
    enclosing: tuple[str, State, Scope] | None = None  # (state name, state, its scope)


def scopes(definition: Mapping[str, Any]) -> Iterator[Scope]:
    """Every `States` map of a definition, outermost first, each after the one enclosing it."""
    return _scopes(definition.get("States", {}), None)


def _scopes(states: Mapping[str, State], enclosing: tuple[str, State, Scope] | None) -> Iterator[Scope]:
    scope = Scope(dict(states), enclosing)
    yield scope
    for name, state in states.items():
        for key in ("ItemProcessor", "Iterator"):
            if isinstance(state.get(key), dict):
                yield from _scopes(state[key].get("States", {}), (name, state, scope))
        for branch in state.get("Branches", []) or []:
            yield from _scopes(branch.get("States", {}), (name, state, scope))


def iter_states(definition: Mapping[str, Any]) -> Iterator[tuple[str, State]]:
    """All states, including those nested in Map (ItemProcessor/Iterator) and Parallel branches."""
    for scope in scopes(definition):
        yield from scope.states.items()


def find_state(definition: Mapping[str, Any], name: str) -> State:
    """The state called `name` at any depth; KeyError naming the states there are."""
    found = dict(iter_states(definition))
    if name not in found:
        raise KeyError(f"no state {name!r} in the definition (states: {', '.join(sorted(found))})")
    return found[name]


# -- one state: its task, its transitions, its Retry and Catch ----------------------------------------

def resource(state: Mapping[str, Any]) -> str:
    return str(state.get("Resource", "")) if state.get("Type") == "Task" else ""


def is_task_of(state: Mapping[str, Any] | None, integration_prefix: str) -> bool:
    """A Task whose Resource starts with `integration_prefix` (e.g. `GLUE_START_JOB_RUN`)."""
    return bool(state) and resource(state).startswith(integration_prefix)


def is_sync_task(state: Mapping[str, Any]) -> bool:
    return is_sync(resource(state))


def is_alert(state: Mapping[str, Any] | None) -> bool:
    """The state publishes to SNS (the pipelines' alerts)."""
    return is_task_of(state, SNS_PUBLISH)


def task_parameters(state: Mapping[str, Any]) -> dict[str, Any]:
    """A Task's request: `Parameters` (JSONPath) or `Arguments` (JSONata)."""
    parameters = state.get("Parameters") or state.get("Arguments")
    return parameters if isinstance(parameters, dict) else {}


def transitions(state: Mapping[str, Any]) -> Iterator[str]:
    """Names of the states this one may go to: Next, Default, each Choice's and each Catch's Next."""
    if isinstance(state.get("Next"), str):
        yield state["Next"]
    if isinstance(state.get("Default"), str):
        yield state["Default"]
    for rule in [*(state.get("Catch", []) or []), *(state.get("Choices", []) or [])]:
        if isinstance(rule.get("Next"), str):
            yield rule["Next"]


def retriers(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(state.get("Retry") or [])


def retrier_for(state: Mapping[str, Any], error: str) -> dict[str, Any] | None:
    """The first retrier whose ErrorEquals names `error` (as Step Functions picks it)."""
    return next((r for r in retriers(state) if error in (r.get("ErrorEquals") or [])), None)


def catchers(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(state.get("Catch") or [])


def catch_all(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """The catcher covering `States.ALL`, if any."""
    return next((c for c in catchers(state) if CATCH_ALL in (c.get("ErrorEquals") or [])), None)


# -- a whole definition: what it calls ----------------------------------------------------------------

def task_resources(definition: Mapping[str, Any]) -> set[str]:
    """The `Resource` ARNs of every Task state, with the `.sync`/`.waitForTaskToken` suffixes kept."""
    return {resource(state) for _, state in iter_states(definition) if resource(state)}


def glue_tasks(definition: Mapping[str, Any]) -> dict[str, State]:
    """Every Glue startJobRun Task, at any depth, by state name."""
    return {name: state for name, state in iter_states(definition) if is_task_of(state, GLUE_START_JOB_RUN)}


def glue_job_names(definition: Mapping[str, Any]) -> set[str]:
    """The `JobName`s of every Glue startJobRun task, at any depth (Map, Parallel)."""
    return {task_parameters(state)["JobName"] for state in glue_tasks(definition).values()
            if isinstance(task_parameters(state).get("JobName"), str)}


def states_using(definition: Mapping[str, Any], text: str) -> list[str]:
    """Names of the states whose JSON contains `text` (e.g. a `${Placeholder}`)."""
    return [name for name, state in iter_states(definition) if text in json.dumps(state)]


def state_with_resource(definition: Mapping[str, Any], resource_arn: str) -> str | None:
    return next((name for name, state in iter_states(definition) if state.get("Resource") == resource_arn), None)


def integration_of(resource_arn: str) -> str:
    """`arn:aws:states:::glue:startJobRun.sync` → `glue:startJobRun` (service and API, no pattern)."""
    if not resource_arn.startswith(SERVICE_INTEGRATION):
        raise ValueError(f"not an optimized service integration ARN: {resource_arn!r}")
    return resource_arn[len(SERVICE_INTEGRATION):].split(".", 1)[0]


def is_sync(resource_arn: str) -> bool:
    return ".sync" in resource_arn
