"""Which earlier event days a bronze ingest date touched (late records), so their gold can be rebuilt."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.windows import event_date

INGEST_DATE = "_ingest_date"


def late_event_days(transactions: DataFrame, ingest_date: date) -> DataFrame:
    """Distinct `event_date`s before `ingest_date` of the rows ingested on `ingest_date`.

    Empty when the input has no `_ingest_date` lineage column (nothing to tell late rows by).
    """
    day = event_date(F.col("event_time")).alias("event_date")
    if INGEST_DATE not in transactions.columns:
        return transactions.select(day).limit(0)
    ingested = transactions.where(F.col(INGEST_DATE) == F.lit(ingest_date))
    return ingested.select(day).where(F.col("event_date") < F.lit(ingest_date)).distinct()
