"""`make bench` section: free-text redaction and tokenization (see bench/pii_bench.py)."""

from bench.pii_bench import section

__all__ = ["section"]
