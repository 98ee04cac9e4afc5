"""Batch work at scale: export the event log to Parquet, and train on it with Spark.

``om.scale.export_events(dir)`` adds what is new in the store's event log to a partitioned
Parquet folder (``batch.export_events``); ``om.scale.spark_train(dir, master=...)`` runs the
Spark pipeline (``batch.spark_pipeline``) on such a folder and saves its models under this
store's artefacts (the same versioned format ``omotenashi train`` writes, so a server swaps
them in unchanged) and its RFM and value features as this store's scores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi


class Scale:
    """Export to Parquet and Spark training over one engine's store."""

    def __init__(self, om: Omotenashi) -> None:
        self._om = om

    def export_events(
        self,
        directory: str | os.PathLike,
        *,
        page_rows: int = 50_000,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Export the events stored since the folder's last export (see ``batch._lake``)."""
        from omotenashi.batch import export_events

        store = self._om.store
        top = store.events.last_seq()  # every event up to it is committed (writers take turns)
        return export_events(
            directory,
            store.events.rows_between,
            top,
            store.identities.links(),
            page_rows=page_rows,
            progress=progress,
        )

    def spark_train(
        self,
        events_dir: str | os.PathLike,
        *,
        master: str = "local[2]",
        factors: int = 64,
        iterations: int = 15,
        regularization: float = 0.05,
        alpha: float = 2.0,
        spark_conf: dict[str, str] | None = None,
        spark: Any = None,
        phase: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Run the Spark pipeline on an export folder; save its models and scores here.

        ``spark`` is a running SparkSession to use (else one is started for ``master``).

        Returns
        -------
        dict
            What was saved: ``models`` (name -> version), ``customers`` scored, timings, and
            ``scores_saved`` (the ``rfm`` score rows written to this store).
        """
        from omotenashi.batch import run_spark_pipeline

        om = self._om
        items = om.items_frame()
        result = run_spark_pipeline(
            events_dir,
            om.root,
            master=master,
            items=items if len(items) else None,
            als_params={
                "factors": factors,
                "iterations": iterations,
                "regularization": regularization,
                "alpha": alpha,
            },
            spark_conf=spark_conf,
            spark=spark,
            phase=phase,
        )
        scores = result.pop("scores")
        result["scores_saved"] = om.ingest.save_scores("rfm", scores) if len(scores) else 0
        return result


__all__ = ["Scale"]
