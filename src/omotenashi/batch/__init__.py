"""Batch work at scale: the event log as partitioned Parquet, and a Spark pipeline over it.

``export_events`` adds the events stored since the last export to a date-partitioned Parquet
folder (``_lake``); ``run_spark_pipeline`` computes RFM features, item co-occurrence and ALS
factors from such a folder with Spark and saves the models in the format a server loads
(``_spark``; PySpark is the optional ``spark`` extra and is imported only when a job runs).
"""

from omotenashi.batch._lake import (
    EVENT_SCHEMA,
    IDENTITY_SCHEMA,
    MANIFEST,
    committed_files,
    export_events,
    read_events,
    read_identities,
    read_manifest,
)
from omotenashi.batch._spark import (
    SPARK_MODELS,
    cosine_neighbours,
    interactions,
    order_cooccurrence,
    rfm_features,
    run_spark_pipeline,
    spark_session,
)

__all__ = [
    "EVENT_SCHEMA",
    "IDENTITY_SCHEMA",
    "MANIFEST",
    "SPARK_MODELS",
    "committed_files",
    "cosine_neighbours",
    "export_events",
    "interactions",
    "order_cooccurrence",
    "read_events",
    "read_identities",
    "read_manifest",
    "rfm_features",
    "run_spark_pipeline",
    "spark_session",
]
