"""Quality gates with Great Expectations 1.x: suites as data, warn/quarantine/fail, results, Data Docs.

Public API:
- `run_quality_gate(...) -> GateResult`, `raise_if_failed(result)`, `QualityGateFailed`
- `build_data_docs(ops_root, site_root=None) -> str` (path of index.html)
- `quality_table(lake_root, run_date) -> str`
- `load_suite(layer, dataset)`; severities `WARN`, `QUARANTINE`, `FAIL`
See docs/quality.md.
"""

from jobs.quality.data_docs import build_data_docs
from jobs.quality.gate import GateResult, QualityGateFailed, raise_if_failed, run_quality_gate
from jobs.quality.outcomes import ExpectationFailure
from jobs.quality.report import quality_table
from jobs.quality.suites import FAIL, QUARANTINE, WARN, QualitySuite, SuiteError, load_suite

__all__ = [
    "FAIL",
    "QUARANTINE",
    "WARN",
    "ExpectationFailure",
    "GateResult",
    "QualityGateFailed",
    "QualitySuite",
    "SuiteError",
    "build_data_docs",
    "load_suite",
    "quality_table",
    "raise_if_failed",
    "run_quality_gate",
]
