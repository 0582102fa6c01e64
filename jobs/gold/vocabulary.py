"""Fixed category vocabularies for the gold encodings.

They come from the data model's allowed-values lists, never from the data, so a feature column
means the same thing on every day whatever values that day happened to contain. The tuples are
append-only: a new allowed value goes at the end, so no existing index or column ever changes.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# customers.segment (silver lower-cases it); one-hot column `segment_<value>` per entry.
SEGMENTS: tuple[str, ...] = ("consumer", "premium", "small_business", "enterprise")

# customers.country (ISO 3166-1 alpha-2, silver upper-cases it); `country_index` = position here.
# Alphabetical as first written; append new codes at the end rather than re-sorting.
COUNTRIES: tuple[str, ...] = ("AU", "CA", "DE", "ES", "FR", "GB", "IE", "IT", "NL", "US")

UNKNOWN_INDEX = -1


def segment_column_name(segment: str) -> str:
    return f"segment_{segment}"


SEGMENT_COLUMNS: tuple[str, ...] = tuple(segment_column_name(s) for s in SEGMENTS)


def normalized_segment(segment: Column) -> Column:
    return F.lower(F.trim(segment))


def normalized_country(country: Column) -> Column:
    return F.upper(F.trim(country))


def segment_one_hot(segment: Column) -> list[Column]:
    """One 0/1 int column per allowed segment; an unknown or null segment is all zeros."""
    return [
        F.when(segment == F.lit(value), F.lit(1)).otherwise(F.lit(0)).cast("int").alias(name)
        for value, name in zip(SEGMENTS, SEGMENT_COLUMNS, strict=True)
    ]


def country_index(country: Column) -> Column:
    """Position of the country in COUNTRIES; -1 for an unknown or null country."""
    index_of = F.create_map(*[F.lit(x) for i, c in enumerate(COUNTRIES) for x in (c, i)])
    return F.coalesce(index_of[country], F.lit(UNKNOWN_INDEX)).cast("int").alias("country_index")
