"""Evaluation use cases: offline protocols for recommenders (top-N, sessions) and off-policy
evaluation of decision policies on logs.

The protocols, metrics and estimators live in ``omotenashi.evaluation`` and ``omotenashi.ope``;
this module assembles a run from a face's options (files, model names, peers) and reports each
result as it comes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from omotenashi import evaluation as ev
from omotenashi.decisions import LoggedRequests, Policy, logged_action_dist, read_logs
from omotenashi.ope import evaluate_policy
from omotenashi.recommend import EventWeights, make_model, rating_range

Row = dict[str, Any]


class Evaluation:
    """Offline evaluation runs (no store needed)."""

    # -- recommenders ----------------------------------------------------------------------------
    @staticmethod
    def topn_candidates(
        data: str | Path,
        mapping: str,
        *,
        min_rating: float | None = None,
        models: Sequence[str] = ("recent_ease",),
        peers: bool = True,
        tune: bool = False,
        budget: float = 60.0,
        encoding: str = "utf-8",
        decimal: str = ".",
    ) -> tuple[Any, list[tuple[str, Any]]]:
        """Protocol P1's split of ``data`` and the models to run on it (peers, ours, tuned);
        ``encoding`` and ``decimal`` describe a text file.

        With ``tune``, each of ``models`` is also run with the settings ``train`` would choose:
        the same search (``evaluation.select_model``) on a validation split cut from the
        training part only, within ``budget`` seconds per model. ``min_rating`` None: where
        ``train`` draws liking on the file's scale (``EventWeights.on_scale``: 4 on five stars)."""
        interactions = ev.read_interactions(data, mapping, encoding=encoding, decimal=decimal)
        if min_rating is None and "rating" in interactions.columns:
            scale = rating_range(interactions["rating"])
            min_rating = EventWeights().on_scale(*scale).rating_threshold
        split = ev.split_p1(interactions, min_rating=min_rating)
        candidates = ev.topn_peers() if peers else []
        for name in models:
            candidates.append((name, make_model(name)))
            if tune:
                chosen = ev.select_model(split.train, [name], budget_s=budget)
                candidates.append((f"{name}+tuned", make_model(name, **chosen.params)))
        return split, candidates

    @staticmethod
    def topn(split: Any, candidates: Sequence[tuple[str, Any]], on_result: Callable[[Row], Any]):
        """Run protocol P1 (NDCG@10, Recall@20); ``on_result`` gets one row per model."""
        return ev.evaluate_topn(split, list(candidates), on_result=on_result)

    @staticmethod
    def sessions_candidates(
        mapping: str,
        *,
        data: str | Path | None = None,
        train: str | Path | None = None,
        test: str | Path | None = None,
        models: Sequence[str] = ("sknn",),
        peers: bool = True,
        encoding: str = "utf-8",
        decimal: str = ".",
    ) -> tuple[Any, list[tuple[str, Any]]]:
        """Protocol S1's split (one file, or train and test files) and the models to run;
        ``encoding`` and ``decimal`` describe the text files."""

        def read(path: str | Path) -> Any:
            return ev.read_sessions(path, mapping, encoding=encoding, decimal=decimal)

        if data is not None:
            split = ev.split_sessions_last(read(data), order_by="date")
        elif train is not None and test is not None:
            split = ev.prepare_s1(read(train), read(test))
        else:
            raise ValueError("give --train and --test, or --data")
        candidates = ev.session_peers() if peers else []
        candidates += [(m, make_model(m)) for m in models]
        return split, candidates

    @staticmethod
    def sessions(
        split: Any, candidates: Sequence[tuple[str, Any]], on_result: Callable[[Row], Any]
    ):
        """Run protocol S1 (HR@20, MRR@20); ``on_result`` gets one row per model."""
        return ev.evaluate_sessions(split, list(candidates), on_result=on_result)

    # -- decision policies -----------------------------------------------------------------------
    #: Logged requests by preset (``obd``, ``decisions``) or by column map.
    read_logs = staticmethod(read_logs)

    @staticmethod
    def ope(
        requests: LoggedRequests,
        policy: Policy,
        *,
        estimators: Sequence[str],
        n_bootstrap: int = 1000,
        alpha: float = 0.05,
        seed: int = 0,
        truth: LoggedRequests | None = None,
        progress: Callable[[int], Any] | None = None,
        phase: Callable[[str], Any] | None = None,
    ) -> list[Row]:
        """Estimate ``policy``'s value from logs of another policy (off-policy evaluation).

        One row per estimator (``estimator``, ``value``, ``ci_low``, ``ci_high``, ``ess``);
        with ``truth`` (on-policy logs of the evaluated policy) also ``truth``, ``rel_error``
        and ``covered``. ``progress`` gets the rounds the policy has scored so far, ``phase``
        the name of the estimation step that follows.
        """
        log = requests.log
        if policy.kind == "uniform" and requests.eligible is None:
            dist = np.full((log.n_rounds, log.n_actions), 1.0 / log.n_actions)
        else:
            dist = logged_action_dist(policy, requests, progress=progress)
        if phase is not None:
            phase(f"estimating ({n_bootstrap:,} bootstrap resamples)")
        results = evaluate_policy(
            log,
            dist,
            estimators=list(estimators),
            n_bootstrap=n_bootstrap,
            alpha=alpha,
            random_state=seed,
            action_features=requests.action_features,
            pair_features=requests.pair_features,
        )
        observed = None if truth is None else float(truth.log.reward.mean())
        rows = []
        for e in results:
            row: Row = e.to_dict()
            if observed is not None:
                row["truth"] = observed
                row["rel_error"] = abs(e.value - observed) / observed if observed else None
                row["covered"] = bool(e.ci_low <= observed <= e.ci_high)
            rows.append(row)
        return rows


__all__ = ["Evaluation"]
