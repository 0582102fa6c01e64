"""`make bench` section: bronze_to_silver against a silver table that grows (see bench/growth_bench.py)."""

from bench.growth_bench import section

__all__ = ["section"]
