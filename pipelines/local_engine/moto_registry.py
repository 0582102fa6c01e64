"""Every patch this project applies to moto, in one place.

- interpreter (moto_patches), applied by `LocalStepFunctions`: Glue `.sync`, Map/Parallel errors,
  Retry and Wait without sleeping;
- sagemaker (sagemaker_patches), applied by `LocalStepFunctions`: SageMaker `.sync`, jobs run locally;
- cloudformation (cloudformation_patches), applied by `infra.emulator.moto_server`: the stack deploys
  through change sets.

Each patch is applied only inside its group's context and undone on exit. Each has a canary in
tests/test_moto_seam.py showing that the pinned moto, unpatched, still has the bug it works around:
after a moto upgrade, a failing canary names a patch that may be dropped.
moto's public extension points are used where they suffice: the Step Functions interpreter is switched
on through moto's config (`execute_state_machine`, `engine.MOTO_CONFIG`, or the server's
`/moto-api/config`); moto 5.2.5 offers none for what the patches below change.
"""

from __future__ import annotations

from pipelines.local_engine.cloudformation_patches import CLOUDFORMATION_PATCHES
from pipelines.local_engine.moto_patches import INTERPRETER_PATCHES, JITTER_UPPER_BOUND
from pipelines.local_engine.moto_seam import MotoPatch, changed_since, snapshot
from pipelines.local_engine.sagemaker_patches import SAGEMAKER_PATCHES

PATCH_GROUPS: dict[str, tuple[MotoPatch, ...]] = {
    "interpreter": (*INTERPRETER_PATCHES, JITTER_UPPER_BOUND),
    "sagemaker": SAGEMAKER_PATCHES,
    "cloudformation": CLOUDFORMATION_PATCHES,
}
MOTO_PATCHES: tuple[MotoPatch, ...] = tuple(patch for group in PATCH_GROUPS.values() for patch in group)


def by_name(name: str) -> MotoPatch:
    for patch in MOTO_PATCHES:
        if patch.name == name:
            return patch
    raise KeyError(f"no moto patch named {name!r} (known: {', '.join(p.name for p in MOTO_PATCHES)})")


def describe_patches() -> list[dict[str, str]]:
    """One row per patch: group, name, the attribute it replaces, what it fixes, moto version."""
    return [{"group": group, "name": patch.name, "replaces": patch.where, "fixes": patch.fixes,
             "written_for": patch.written_for}
            for group, patches in PATCH_GROUPS.items() for patch in patches]


# moto as imported, before any patch: what every patched attribute must be again once its context ends.
AS_IMPORTED = snapshot(MOTO_PATCHES)


def left_patched() -> list[str]:
    """Patches whose attribute is not moto's own right now (empty outside every patch context)."""
    return changed_since(AS_IMPORTED, MOTO_PATCHES)
