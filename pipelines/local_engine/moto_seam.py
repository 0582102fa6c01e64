"""The seam between this project and moto's internals: the moto pin, the patch record, and the context
that applies a set of patches and undoes every one of them on exit.

The pin is written once, in pyproject.toml (`moto[server]==X`); it is read here (from the file in a
source checkout, else from the installed package's metadata), so the guard, the Docker image and the
patches all follow that one line.

Every patch names what it fixes and the moto version it was written for. When the pin moves, the
guard refuses to patch until each patch's `written_for` has been re-checked against the new moto
(its canary in tests/test_moto_seam.py says whether the bug it works around is still there).
"""

from __future__ import annotations

import inspect
import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

import moto

PROJECT_DISTRIBUTION = "lakehouse"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
_MOTO_REQUIREMENT = re.compile(r"^moto(\[[^\]]*\])?\s*==\s*([0-9][^\s;,]*)")


class UnsupportedMotoVersion(RuntimeError):
    """The installed moto is not the version whose internals these patches were written against."""


def declared_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The project's dependencies: from pyproject.toml in a source checkout (the Docker test image runs
    the suite from one without installing the project), else from the installed package's metadata."""
    if pyproject.is_file():
        return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])
    return list(metadata.requires(PROJECT_DISTRIBUTION) or ())


def pinned_moto_version(pyproject: Path = PYPROJECT) -> str:
    """The exact moto version pyproject.toml pins."""
    for requirement in declared_requirements(pyproject):
        match = _MOTO_REQUIREMENT.match(requirement.strip())
        if match:
            return match.group(2)
    raise UnsupportedMotoVersion(f"{PROJECT_DISTRIBUTION}'s dependencies pin no exact moto version "
                                 "(moto[server]==X); pyproject.toml must pin it, since the local engine patches "
                                 "moto's internals")


PINNED_MOTO_VERSION = pinned_moto_version()


def require_moto_version(installed: str, pinned: str = PINNED_MOTO_VERSION) -> None:
    if installed != pinned:
        raise UnsupportedMotoVersion(
            f"pipelines.local_engine patches moto internals and is pinned to moto=={pinned}, "
            f"but moto=={installed} is installed. Install moto[server]=={pinned}, or re-check every "
            f"patch in pipelines.local_engine.moto_registry against moto {installed} (and its canary in "
            "tests/test_moto_seam.py) before moving the pin in pyproject.toml."
        )


require_moto_version(moto.__version__)


@dataclass(frozen=True)
class MotoPatch:
    """One replaced (or added) attribute of a moto class or module.

    `replacement(original, hooks)` builds the new value from moto's own one and the caller's hooks
    (None where the patch needs none); `adds` marks an attribute moto does not have at all.
    """

    name: str
    target: Any
    attribute: str
    fixes: str
    written_for: str
    replacement: Callable[[Any, Any], Any]
    adds: bool = False

    @property
    def where(self) -> str:
        owner = getattr(self.target, "__qualname__", None) or getattr(self.target, "__name__", repr(self.target))
        return f"{getattr(self.target, '__module__', '') or ''}:{owner}.{self.attribute}".lstrip(":")


_ABSENT = object()


def as_defined(patch: MotoPatch) -> Any:
    """The attribute as the target itself holds it (no descriptor binding); `_ABSENT` if it has none."""
    return inspect.getattr_static(patch.target, patch.attribute, _ABSENT)


def snapshot(patches: Iterable[MotoPatch]) -> dict[str, Any]:
    """What each patched attribute is right now, to compare with after a run (see `changed_since`)."""
    return {patch.name: as_defined(patch) for patch in patches}


def changed_since(before: dict[str, Any], patches: Iterable[MotoPatch]) -> list[str]:
    """Names of the patches whose attribute is not what it was in `before`."""
    return [patch.name for patch in patches if as_defined(patch) is not before[patch.name]]


def stale_patches(patches: Iterable[MotoPatch], pinned: str = PINNED_MOTO_VERSION) -> list[MotoPatch]:
    return [patch for patch in patches if patch.written_for != pinned]


@contextmanager
def applied(patches: Iterable[MotoPatch], hooks: Any = None) -> Iterator[None]:
    """Apply the patches for the duration of the block; every attribute is restored on exit."""
    chosen = list(patches)
    stale = stale_patches(chosen)
    if stale:
        raise UnsupportedMotoVersion(
            f"moto is pinned to {PINNED_MOTO_VERSION}, but these patches were written for another version and "
            f"have not been re-checked: {', '.join(f'{p.name} ({p.written_for})' for p in stale)}")
    with ExitStack() as stack:
        for patch in chosen:
            original = None if patch.adds else getattr(patch.target, patch.attribute)
            stack.enter_context(mock.patch.object(patch.target, patch.attribute,
                                                  patch.replacement(original, hooks), create=patch.adds))
        yield
