"""PII protection building blocks: keys, keyed tokenization, column policies, redaction, discovery.

Submodules are imported explicitly (`from jobs.pii.policies import apply_column_policies`) so that
importing the structured-policy code never pays for loading Presidio or spaCy.
"""
