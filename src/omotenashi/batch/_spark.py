"""The Spark batch pipeline: from exported Parquet events to the models a server loads.

Spark does the work that grows with the events: resolving each event to its person, the
weighted (person, item) interactions, purchase occasions and the RFM sufficient statistics,
item co-occurrence (cosine over customers: similar items; orders: bought together) and the
matrix factorisation (Spark MLlib ALS, implicit feedback). The driver receives what a server
keeps in memory anyway (one row per interaction, per customer, per co-occurring pair) and saves
it with ``recommend.save_model``: the same versioned artefacts ``omotenashi train`` writes, so
a server swaps them in unchanged. The same job runs on a cluster by its master URL.

The counting rules are the single-machine ones (``recommend.interactions_from_events``,
``value.transactions_from_events`` / ``rfm_summary``, ``BoughtTogether``, cosine ``ItemKNN``),
written once more in Spark SQL; tests/batch compares both paths on the same data.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from omotenashi.batch._lake import IDENTITIES, committed_files
from omotenashi.errors import DataError
from omotenashi.recommend import UNIT_TYPES, EventWeights, make_model, save_model, set_default
from omotenashi.storage import ANONYMOUS_PREFIX
from omotenashi.value import RFMScorer

#: Models the pipeline saves: latent factors (default), cosine neighbours (similar items) and
#: bought together.
SPARK_MODELS = ("als", "itemknn", "together")


def spark_session(master: str = "local[2]", conf: Mapping[str, str] | None = None) -> Any:
    """A SparkSession for the pipeline (``master``: ``local[N]``, ``spark://host:7077``,
    ``yarn``, ``k8s://...``)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError(
            "the Spark pipeline needs PySpark: pip install 'omotenashi[spark]'", field="master"
        ) from None
    builder = (
        SparkSession.builder.master(master)
        .appName("omotenashi-spark-train")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _resolved_events(spark: Any, events_dir: str | os.PathLike) -> Any:
    """Events with ``person_id`` and ``known``, resolved through the exported identities as the
    store's ``RESOLVED_EVENTS`` does."""
    from pyspark.sql import functions as F

    from omotenashi.batch._lake import EVENT_SCHEMA

    files = committed_files(events_dir)
    schema = _spark_schema(EVENT_SCHEMA)
    events = spark.read.schema(schema).parquet(*files)
    ids_path = Path(events_dir) / IDENTITIES
    if ids_path.exists():
        ids = spark.read.parquet(str(ids_path))
    else:
        ids = spark.createDataFrame([], "kind string, value string, customer_id string")
    mc = ids.where(F.col("kind") == "customer").select(
        F.col("value").alias("mc_value"), F.col("customer_id").alias("mc_customer")
    )
    ma = ids.where(F.col("kind") == "anonymous").select(
        F.col("value").alias("ma_value"), F.col("customer_id").alias("ma_customer")
    )
    joined = events.join(mc, events.customer_id == mc.mc_value, "left").join(
        ma, events.anonymous_id == ma.ma_value, "left"
    )
    person = (
        F.when(F.col("customer_id").isNotNull(), F.coalesce("mc_customer", "customer_id"))
        .when(F.col("ma_customer").isNotNull(), F.col("ma_customer"))
        .otherwise(F.concat(F.lit(ANONYMOUS_PREFIX), F.col("anonymous_id")))
    )
    known = F.col("customer_id").isNotNull() | F.col("ma_customer").isNotNull()
    return joined.select(
        "seq",
        "type",
        "item_id",
        "order_id",
        "quantity",
        "value",
        "rating",
        "ts",
        person.alias("person_id"),
        known.alias("known"),
    )


def _spark_schema(schema: Any) -> Any:
    from pyspark.sql import types as T

    kinds = {"int64": T.LongType(), "string": T.StringType(), "double": T.DoubleType()}
    fields = []
    for field in schema:
        kind = "timestamp" if str(field.type).startswith("timestamp") else str(field.type)
        spark_type = T.TimestampType() if kind == "timestamp" else kinds[kind]
        fields.append(T.StructField(field.name, spark_type, True))
    return T.StructType(fields)


def interactions(
    events: Any, weights: EventWeights | None = None, *, keep_unliked: bool = False
) -> Any:
    """Weighted (person, item) pairs, as ``recommend.interactions_from_events`` (with
    ``keep_unliked``, the pairs met but not liked too, at weight 0)."""
    from pyspark.sql import functions as F

    weights = weights or EventWeights()
    if weights.scale_open:
        # set for the ratings' own scale, as ``EventWeights.on_scale`` reads it
        low, high = (
            events.where(F.col("type") == "rating")
            .agg(F.min("rating").alias("low"), F.max("rating").alias("high"))
            .first()
        )
        weights = weights.on_scale(
            None if low is None else float(low), None if high is None else float(high)
        )
    w = F.lit(float(weights.default))
    for event_type, value in weights.weights.items():
        w = F.when(F.col("type") == event_type, F.lit(float(value))).otherwise(w)
    counted = F.when(w != 0, F.lit(1)).otherwise(F.lit(0))
    if weights.rating_weights is not None:
        factor = F.lit(0.0)
        for rating, value in weights.rating_weights.items():
            factor = F.when(F.col("rating") == float(rating), F.lit(float(value))).otherwise(factor)
        factor = F.when(F.col("rating").isNull(), F.lit(0.0)).otherwise(factor)
    else:
        threshold, unit = float(weights.rating_threshold), float(weights.rating_unit)
        factor = (
            F.when(F.col("rating").isNull(), F.lit(1.0))
            .when(F.col("rating") >= threshold, 1.0 + (F.col("rating") - threshold) / unit)
            .otherwise(F.lit(0.0))
        )
    w = F.when(F.col("type") == "rating", w * factor).otherwise(w)
    # the latest rating of a pair that says "not liked" makes the pair not liked, whatever else
    # it holds (``recommend.interactions_from_events``); 1 marks such a rating, 0 another
    rated = (F.col("type") == "rating") & F.col("rating").isNotNull() & (counted == 1)
    low = F.when(rated, F.when(factor <= 0, F.lit(1)).otherwise(F.lit(0)))
    if "quantity" in events.columns:  # repeats (plays ...), as ``recommend.repeats_factor``
        repeats = ~F.col("type").isin(*UNIT_TYPES) & (F.col("quantity") > 1)
        w = F.when(repeats, w * (1.0 + F.log(F.col("quantity")))).otherwise(w)
    pairs = (
        events.where(F.col("item_id").isNotNull() & F.col("person_id").isNotNull())
        .groupBy(F.col("person_id").alias("user_id"), "item_id")
        .agg(
            F.sum(w).alias("weight"),
            F.max("ts").alias("timestamp"),
            F.count("*").alias("n"),
            F.max(counted).alias("met"),
            F.max_by(low, F.when(rated, F.col("ts"))).alias("latest_low"),
        )
        .withColumn(
            "weight",
            F.when(F.col("latest_low") == 1, F.lit(0.0)).otherwise(F.col("weight")),
        )
        .drop("latest_low")
    )
    if not keep_unliked:
        return pairs.where(F.col("weight") > 0).drop("met")
    return (
        pairs.where((F.col("weight") > 0) | (F.col("met") == 1))
        .withColumn("weight", F.greatest(F.col("weight"), F.lit(0.0)))
        .drop("met")
    )


def rfm_features(events: Any) -> pd.DataFrame:
    """Per known customer: ``value.rfm_summary`` of ``value.transactions_from_events``
    (purchases net of their order's returns, occasions by UTC day), computed in Spark."""
    from pyspark.sql import functions as F

    known = events.where(F.col("known") & F.col("person_id").isNotNull())
    purchases = known.where(F.col("type") == "purchase").withColumn(
        "okey",
        F.when(F.col("order_id").isNotNull(), F.col("order_id")).otherwise(
            F.concat(F.lit("@"), F.col("ts").cast("string"))
        ),
    )
    orders = purchases.groupBy("person_id", "okey").agg(
        F.min("ts").alias("ts"), F.sum(F.coalesce("value", F.lit(0.0))).alias("value")
    )
    returns = (
        known.where((F.col("type") == "return") & F.col("order_id").isNotNull())
        .groupBy("person_id", F.col("order_id").alias("okey"))
        .agg(F.sum(F.coalesce("value", F.lit(0.0))).alias("returned"))
    )
    net = (
        orders.join(returns, ["person_id", "okey"], "left")
        .withColumn("value", F.col("value") - F.coalesce("returned", F.lit(0.0)))
        .where(F.col("value") > 0)
        .withColumn("day", F.to_date("ts"))
    )
    occasions = net.groupBy("person_id", "day").agg(F.sum("value").alias("value"))
    end_day = occasions.agg(F.max("day")).first()[0]
    if end_day is None:
        return pd.DataFrame()
    ordered = F.struct("day", "value")
    per_person = occasions.groupBy("person_id").agg(
        F.min("day").alias("first"),
        F.max("day").alias("last"),
        F.count("*").alias("n_purchases"),
        F.sum("value").alias("monetary"),
        F.min(ordered).getField("value").alias("first_value"),
    )
    frame = per_person.toPandas().set_index("person_id").sort_index()
    first = pd.to_datetime(frame["first"])
    last = pd.to_datetime(frame["last"])
    end = pd.Timestamp(end_day)
    repeats = (frame["n_purchases"] - 1).astype(float)
    repeat_total = frame["monetary"] - frame["first_value"]
    out = pd.DataFrame(
        {
            "repeat_purchases": repeats,
            "recency": (last - first).dt.days.astype(float),
            "T": (end - first).dt.days.astype(float),
            "mean_repeat_spend": np.where(
                repeats > 0, repeat_total / repeats.where(repeats > 0, 1), 0.0
            ),
            "n_purchases": frame["n_purchases"].astype(int),
            "monetary": frame["monetary"].astype(float),
            "recency_days": (end - last).dt.days.astype(float),
        },
        index=frame.index,
    )
    out.index.name = "person_id"
    return out


def cosine_neighbours(pairs: Any) -> Any:
    """Cosine similarity of items over people's weights (``ItemKNN`` with ``weighting
    cosine``): ``(a, b, similarity)`` for every pair with a customer in common."""
    from pyspark.sql import functions as F

    norms = pairs.groupBy("item_id").agg(F.sqrt(F.sum(F.col("weight") ** 2)).alias("norm"))
    left = pairs.select("user_id", F.col("item_id").alias("a"), F.col("weight").alias("wa"))
    right = pairs.select("user_id", F.col("item_id").alias("b"), F.col("weight").alias("wb"))
    dots = (
        left.join(right, "user_id")
        .where(F.col("a") != F.col("b"))
        .groupBy("a", "b")
        .agg(F.sum(F.col("wa") * F.col("wb")).alias("dot"))
    )
    na = norms.select(F.col("item_id").alias("a"), F.col("norm").alias("na"))
    nb = norms.select(F.col("item_id").alias("b"), F.col("norm").alias("nb"))
    return (
        dots.join(na, "a")
        .join(nb, "b")
        .select("a", "b", (F.col("dot") / (F.col("na") * F.col("nb"))).alias("similarity"))
    )


def order_cooccurrence(events: Any) -> tuple[Any, Any]:
    """Orders' distinct items (``order_id``, ``item_id``, ``timestamp``) and the number of
    orders holding both items of a pair ``(a, b, together)``."""
    from pyspark.sql import functions as F

    lines = (
        events.where(
            (F.col("type") == "purchase")
            & F.col("order_id").isNotNull()
            & F.col("item_id").isNotNull()
        )
        .groupBy("order_id", "item_id")
        .agg(F.max("ts").alias("timestamp"))
    )
    left = lines.select("order_id", F.col("item_id").alias("a"))
    right = lines.select("order_id", F.col("item_id").alias("b"))
    pairs = (
        left.join(right, "order_id")
        .where(F.col("a") != F.col("b"))
        .groupBy("a", "b")
        .agg(F.count("*").alias("together"))
    )
    return lines, pairs


def _matrix(frame: pd.DataFrame, model: Any, value: str) -> sp.csr_matrix:
    n = len(model.item_ids_)
    if frame.empty:
        return sp.csr_matrix((n, n), dtype=np.float32)
    index = pd.Index(model.item_ids_)
    rows = index.get_indexer(frame["a"])
    cols = index.get_indexer(frame["b"])
    keep = (rows >= 0) & (cols >= 0)
    return sp.csr_matrix(
        (frame[value].to_numpy(np.float64)[keep], (rows[keep], cols[keep])), shape=(n, n)
    )


def _train_als(spark: Any, model: Any, frame: pd.DataFrame, params: Mapping[str, Any]) -> None:
    from pyspark.ml.recommendation import ALS

    ratings = spark.createDataFrame(
        pd.DataFrame(
            {
                "u": frame["u"].to_numpy(np.int32),
                "i": frame["i"].to_numpy(np.int32),
                "w": frame["weight"].to_numpy(np.float32),
            }
        )
    )
    als = ALS(
        rank=int(params["factors"]),
        maxIter=int(params["iterations"]),
        regParam=float(params["regularization"]),
        alpha=float(params["alpha"]),
        implicitPrefs=True,
        userCol="u",
        itemCol="i",
        ratingCol="w",
        seed=0,
        # one block per core of the job: fewer, larger blocks than Spark's 10 on a small master
        numUserBlocks=max(2, spark.sparkContext.defaultParallelism),
        numItemBlocks=max(2, spark.sparkContext.defaultParallelism),
    )
    fitted = als.fit(ratings)
    factors = fitted.itemFactors.toPandas()
    Y = np.zeros((len(model.item_ids_), int(params["factors"])), dtype=np.float32)
    if len(factors):
        Y[factors["id"].to_numpy()] = np.stack(factors["features"].to_numpy()).astype(np.float32)
    model.item_factors_ = Y
    # served user vectors: the closed-form solve against Spark's item factors (as ``ImplicitMF``
    # serves them, so that reasons add up to the scores), one per customer on the executors
    model.user_factors_ = solve_user_vectors(spark, model)
    model.bound_tails()  # what lets short histories stop early, as after a local fit


def solve_user_vectors(spark: Any, model: Any) -> np.ndarray:
    """Each user's vector ``(YᵀY + λI + Yᵤᵀ(Cᵤ - I)Yᵤ)⁻¹ YᵤᵀCᵤ pᵤ`` against the model's item
    factors, solved by Spark's executors (the rule of ``ImplicitMF._user_vectors``: confidence
    ``alpha·w`` on the history, so the served scores and their reasons are unchanged).

    Why on the executors: one k x k solve per customer is the part of serving preparation that
    grows with the customers (millions on a cluster); the driver only ships ``Y`` (broadcast)
    and receives the vectors a server keeps anyway. The function sent to the executors uses
    numpy only (it travels by value: executors need no omotenashi).
    """
    Y, gram = model._factors()
    X = model.user_items_.tocoo()
    n_users, k = X.shape[0], Y.shape[1]
    if X.nnz == 0:
        return np.zeros((n_users, k))
    rows = spark.createDataFrame(
        pd.DataFrame(
            {
                "u": X.row.astype(np.int32),
                "i": X.col.astype(np.int32),
                "w": X.data.astype(np.float64),
            }
        )
    )
    factors = spark.sparkContext.broadcast(Y)
    normal = spark.sparkContext.broadcast(gram)
    alpha = float(model.alpha)

    def solve(batches: Any) -> Any:
        Yb, G = factors.value, normal.value
        carry = None
        for frame in batches:
            if carry is not None:
                frame = pd.concat([carry, frame], ignore_index=True)
            # a user's rows may straddle two batches: the last user waits for the next one
            last = frame["u"].to_numpy() == frame["u"].iloc[-1]
            carry, frame = frame[last], frame[~last]
            if len(frame):
                yield _solve_block(frame, Yb, G, alpha)
        if carry is not None and len(carry):
            yield _solve_block(carry, Yb, G, alpha)

    def _solve_block(frame: pd.DataFrame, Yb: np.ndarray, G: np.ndarray, a: float) -> Any:
        users = frame["u"].to_numpy()
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        ends = np.r_[starts[1:], len(users)]
        items, weights = frame["i"].to_numpy(), frame["w"].to_numpy()
        out = np.empty((len(starts), Yb.shape[1]))
        for n, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
            conf, Yi = a * weights[lo:hi], Yb[items[lo:hi]]
            A = G + (Yi * (conf - 1.0)[:, None]).T @ Yi
            out[n] = np.linalg.solve(A, Yi.T @ conf)
        return pd.DataFrame({"u": users[starts], "x": list(out)})

    parts = max(2, spark.sparkContext.defaultParallelism)
    solved = (
        rows.repartition(parts, "u")
        .sortWithinPartitions("u", "i")
        .mapInPandas(solve, schema="u int, x array<double>")
        .toPandas()
    )
    factors.destroy()
    normal.destroy()
    out = np.zeros((n_users, k))
    if len(solved):
        out[solved["u"].to_numpy()] = np.stack(solved["x"].to_numpy())
    return out


def run_spark_pipeline(
    events_dir: str | os.PathLike,
    root: str | os.PathLike,
    *,
    master: str = "local[2]",
    items: pd.DataFrame | None = None,
    als_params: Mapping[str, Any] | None = None,
    default: str = "als",
    neighbours: int = 100,
    weights: EventWeights | None = None,
    spark: Any = None,
    spark_conf: Mapping[str, str] | None = None,
    phase: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Compute features and models from an export folder with Spark; save them under ``root``.

    Parameters
    ----------
    events_dir : path
        A folder written by ``export_events``.
    root : path
        Artefact root of the store that will serve the models.
    master : str
        Spark master URL (ignored when ``spark`` is given).
    items : pandas.DataFrame, optional
        The store's items frame (titles and categories in the saved catalogue).
    als_params : mapping, optional
        ``factors``, ``iterations``, ``regularization``, ``alpha``.
    default : {"als", "itemknn"}
        Model marked as the store's default.
    neighbours : int
        Neighbours kept per item by the cosine model.
    spark : SparkSession, optional
        A running session (tests share one); else one is started for ``master`` and stopped.

    Returns
    -------
    dict
        ``models`` (name -> version), ``interactions``, ``customers``, ``seconds`` per step,
        and ``scores`` (per-customer RFM features and scores, a frame indexed by customer).
    """
    if default not in ("als", "itemknn"):
        raise DataError(f"default must be 'als' or 'itemknn', got {default!r}", field="default")
    committed_files(events_dir)  # a folder with no export is refused before Spark starts
    params = {"factors": 64, "iterations": 15, "regularization": 0.05, "alpha": 2.0}
    params.update(als_params or {})
    weights = weights or EventWeights()
    say = phase or (lambda _message: None)
    own = spark is None
    if own:
        say(f"starting Spark ({master})")
        spark = spark_session(master, spark_conf)
    seconds: dict[str, float] = {}
    # PySpark warns about each pandas conversion with pandas 3; the conversions used here (flat
    # numeric and string columns) are the supported ones
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    saved_at = datetime.now(UTC).isoformat()
    versions: dict[str, int] = {}
    try:
        from pyspark.sql import functions as F

        clock = time.perf_counter()
        events = _resolved_events(spark, events_dir).cache()
        say("weighting interactions")
        # the pairs met but not liked (weight 0) go to the models as seen items only
        every_pair = interactions(events, weights, keep_unliked=True).cache()
        pairs = every_pair.where(F.col("weight") > 0)
        frame = every_pair.toPandas()
        if frame.empty:
            raise DataError(f"{events_dir}: no events with items: nothing to train on")
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        frame = frame.sort_values(["user_id", "timestamp"], kind="mergesort").reset_index(drop=True)
        seconds["interactions"] = time.perf_counter() - clock

        clock = time.perf_counter()
        say("RFM and value features")
        summary = rfm_features(events)
        scores = summary.copy()
        if len(summary):
            scores = summary.join(RFMScorer().fit_transform(summary))
        seconds["rfm"] = time.perf_counter() - clock

        meta = {"saved_at": saved_at, "trained_by": "spark", "master": spark.sparkContext.master}
        clock = time.perf_counter()
        say("matrix factorisation (Spark MLlib ALS)")
        als = make_model(
            "als",
            factors=int(params["factors"]),
            iterations=int(params["iterations"]),
            regularization=float(params["regularization"]),
            alpha=float(params["alpha"]),
        )
        indexed = als.prepare(frame[["user_id", "item_id", "weight", "timestamp"]], items)
        _train_als(spark, als, indexed, params)
        versions["als"] = int(save_model(als, root, metadata=meta).name[1:])
        seconds["als"] = time.perf_counter() - clock

        clock = time.perf_counter()
        say("similar items (cosine co-occurrence)")
        knn = make_model("itemknn", k=neighbours)
        knn.prepare(frame[["user_id", "item_id", "weight", "timestamp"]], items)
        similar = cosine_neighbours(pairs).toPandas()
        S = _matrix(similar, knn, "similarity").tocsr()
        knn.B_ = _keep_top(S, neighbours)
        versions["itemknn"] = int(save_model(knn, root, metadata=meta).name[1:])
        seconds["itemknn"] = time.perf_counter() - clock

        clock = time.perf_counter()
        say("bought together (orders)")
        lines, together_pairs = order_cooccurrence(events)
        order_lines = lines.toPandas()
        if len(order_lines):
            together = make_model("together")
            order_lines["timestamp"] = pd.to_datetime(order_lines["timestamp"], utc=True)
            together.prepare(
                order_lines.rename(columns={"order_id": "user_id"})[
                    ["user_id", "item_id", "timestamp"]
                ],
                items,
            )
            C = _matrix(together_pairs.toPandas(), together, "together")
            count = np.asarray((together.user_items_ > 0).sum(axis=0)).ravel()
            conf = sp.diags(1.0 / (count + together.shrink)) @ C
            if together.lift:
                conf = conf @ sp.diags((count + 1.0) ** -together.lift)
            together.together_ = sp.csr_matrix(conf, dtype=np.float32)
            orders = int(order_lines["order_id"].nunique())
            versions["together"] = int(
                save_model(together, root, metadata={**meta, "orders": orders}).name[1:]
            )
        seconds["together"] = time.perf_counter() - clock
        set_default(root, default)
        events.unpersist()
        every_pair.unpersist()
    finally:
        if own:
            spark.stop()
    return {
        "models": versions,
        "default": default,
        "interactions": int((frame["weight"] > 0).sum()),
        "customers": int(len(summary)),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "scores": scores,
    }


def _keep_top(S: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's ``k`` largest entries (the neighbours ``ItemKNN`` keeps), as float32."""
    S = S.tocsr()
    rows, cols, vals = [], [], []
    for r in range(S.shape[0]):
        lo, hi = S.indptr[r], S.indptr[r + 1]
        if hi == lo:
            continue
        data, idx = S.data[lo:hi], S.indices[lo:hi]
        if hi - lo > k:
            top = np.argsort(-data, kind="stable")[:k]
            data, idx = data[top], idx[top]
        rows.append(np.full(len(idx), r))
        cols.append(idx)
        vals.append(data)
    if not rows:
        return sp.csr_matrix(S.shape, dtype=np.float32)
    out = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=S.shape
    )
    return sp.csr_matrix(out, dtype=np.float32)
