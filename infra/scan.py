"""Validate a generated template: cfn-lint (schema and best practice) and cfripper (security).

cfn-lint and cfripper are development tools (not needed to deploy), so they are imported lazily.
checkov is run too when an executable is available (it cannot share the project's virtualenv:
it pins boto3 1.35); see docs/deploy.md.
"""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.suppressions import suppressions_for


@dataclass(frozen=True)
class Finding:
    scanner: str
    rule: str
    logical_ids: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"{self.scanner} {self.rule} {','.join(self.logical_ids)}: {self.message}"


@functools.lru_cache(maxsize=4)
def _cfn_lint_runner(region: str) -> Any:
    """Loading cfn-lint's rules takes seconds: do it once per region."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    return Runner(ConfigMixIn(regions=[region]))


def cfn_lint(template: dict[str, Any], region: str = "us-east-1") -> list[str]:
    """Every cfn-lint match (errors, warnings and informational) as `RULE path: message`."""
    from cfnlint.decode.decode import decode_str

    decoded, errors = decode_str(json.dumps(template))
    matches = errors or list(_cfn_lint_runner(region).validate_template(decoded))
    return [f"{match.rule.id} {'/'.join(str(p) for p in match.path)}: {match.message}" for match in matches]


def cfripper(template: dict[str, Any], account_id: str) -> list[Finding]:
    """cfripper's failures, minus those accepted in `infra.suppressions` (applied as allow-filters)."""
    import pycfmodel
    from cfripper.config.config import Config
    from cfripper.config.filter import Filter
    from cfripper.model.enums import RuleMode
    from cfripper.rule_processor import RuleProcessor
    from cfripper.rules import DEFAULT_RULES

    filters = [
        Filter(reason=item.reason, rule_mode=RuleMode.ALLOWED, rules={item.rule},
               eval={"or": [{"eq": [{"ref": "logical_id"}, logical_id]} for logical_id in item.logical_ids]})
        for item in suppressions_for("cfripper")
    ]
    config = Config(rules=list(DEFAULT_RULES), aws_account_id=account_id, rules_filters=filters)
    processor = RuleProcessor(*[DEFAULT_RULES[name](config) for name in config.rules])
    model = pycfmodel.parse(json.loads(json.dumps(template))).resolve()
    result = processor.process_cf_template(model, config)
    return [Finding("cfripper", failure.rule, tuple(sorted(failure.resource_ids or ())), failure.reason)
            for failure in result.failures]


def checkov(template_path: Path, executable: str) -> list[Finding]:
    """Run a checkov executable on a template file; skips in the template's Metadata are honoured."""
    completed = subprocess.run(
        [executable, "-f", str(template_path), "--framework", "cloudformation", "--output", "json",
         "--quiet", "--compact", "--skip-download"],
        capture_output=True, text=True, check=False, timeout=600)
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed ({completed.returncode}): {completed.stderr[-2000:]}")
    report = json.loads(completed.stdout or "{}")
    reports = report if isinstance(report, list) else [report]
    findings = []
    for item in reports:
        for check in item.get("results", {}).get("failed_checks", []):
            logical_id = check.get("resource", "").split(".")[-1]
            findings.append(Finding("checkov", check["check_id"], (logical_id,), check.get("check_name", "")))
    return findings
