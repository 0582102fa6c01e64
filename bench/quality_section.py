"""`make bench` section: the quality gate's overhead (see bench/quality_bench.py)."""

from bench.quality_bench import section

__all__ = ["section"]
