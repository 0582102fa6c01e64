"""A small batch's rows in the driver as pandas, for Great Expectations' pandas engine.

On a batch of a few thousand rows, each Spark job Great Expectations runs (one per level of its
metric graph, one count per column-pair, multicolumn or window condition) costs far more to plan and
schedule than its rows cost to check; collected once, the same expectations run on pandas in
milliseconds. Timestamps are collected as microseconds and converted here, so the values are the
session's UTC wall time whatever the time zone of the Python process (`collect` would convert them
to the process's local time).
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T


def rows_as_pandas(df: DataFrame) -> pd.DataFrame:
    """Every row and column of `df`, in its column order; timestamps as naive UTC datetimes."""
    timestamps = {f.name for f in df.schema.fields if isinstance(f.dataType, T.TimestampType)}
    selected = df.select(*[F.unix_micros(df[name]).alias(name) if name in timestamps else df[name]
                           for name in df.columns])
    frame = pd.DataFrame.from_records([tuple(row) for row in selected.collect()], columns=df.columns)
    for name in timestamps:
        frame[name] = pd.to_datetime(frame[name], unit="us")
    return frame
