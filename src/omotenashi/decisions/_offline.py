"""Logged requests for offline work: evaluate a policy on a log, or warm-start one from it.

Three log layouts are read into the same shape — our own decision log, the Open Bandit Dataset,
and any table described by a column map — so that ``evaluate ope`` and ``decide train`` work the
same on all of them.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omotenashi.decisions._features import Features, action_features, context_features, featurize
from omotenashi.decisions._policies import Policy
from omotenashi.errors import DataError
from omotenashi.files import BANDIT_LOGS, CsvOptions, parse_column_map, read_table
from omotenashi.importers.presets import load_obd
from omotenashi.ope import BanditLog
from omotenashi.storage import is_postgres_url, open_decision_log


@dataclass(frozen=True)
class LoggedRequests:
    """A log with the features a policy needs to re-decide every round.

    Attributes
    ----------
    log : BanditLog
        Actions, rewards and propensities (context = a DataFrame for reward models).
    contexts : list of Features
        Context features per round.
    actions : list of Features
        Features of every action, index-aligned with ``log.action``.
    eligible : list of list of int, optional
        Candidate actions per round (all actions when None).
    action_features, pair_features : numpy.ndarray, optional
        Extra inputs for :class:`~omotenashi.ope.RewardModel`.
    """

    log: BanditLog
    contexts: list[Features]
    actions: list[Features]
    eligible: list[list[int]] | None = None
    action_features: np.ndarray | None = None
    pair_features: np.ndarray | None = None


def _read_table(
    path: Path, *, encoding: str = "utf-8", decimal: str = ".", sep: str | None = ","
) -> pd.DataFrame:
    """A CSV/Parquet/JSON-lines log, read by the one reader of ``omotenashi.files`` (text in
    ``encoding``, numbers with the ``decimal`` mark; ``sep`` None: sniffed from the header)."""
    options = CsvOptions(sep=sep, text=False, encoding=encoding, decimal=decimal)
    if not path.exists():
        raise DataError(f"logs: file {path.name} does not exist", field="logs")
    return read_table(path, options, field="logs")


def read_decisions(
    path: str | Path, *, encoding: str = "utf-8", decimal: str = "."
) -> LoggedRequests:
    """Rewarded rows of a decision log: a SQLite file, a PostgreSQL store's log (its URL), or a
    CSV/parquet export of ``to_frame`` (a CSV in ``encoding`` with the ``decimal`` mark).

    All points in the file must share the variants (pass one point's export).
    """
    if is_postgres_url(path) or Path(path).suffix in (".db", ".sqlite", ".sqlite3"):
        if not is_postgres_url(path) and not Path(path).exists():
            raise DataError(f"logs: file {Path(path).name} does not exist", field="logs")
        log = open_decision_log(path)
        try:
            frame = log.to_frame()
        finally:
            log.close()
    else:
        path = Path(path)
        frame = _read_table(path, encoding=encoding, decimal=decimal)
    need = ("variant", "propensity", "probabilities", "reward")
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DataError(f"logs: missing decision-log column {missing[0]!r}", field=missing[0])
    frame = frame[frame["reward"].notna()].reset_index(drop=True)
    if frame.empty:
        raise DataError("logs: no rewarded decision", field="reward")
    probs = [json.loads(p) if isinstance(p, str) else dict(p) for p in frame["probabilities"]]
    names: dict[str, int] = {}
    for p in probs:
        for v in p:
            names.setdefault(v, len(names))
    loads = {
        c: [json.loads(x) if isinstance(x, str) and x else {} for x in frame[c]]
        if c in frame.columns
        else [{}] * len(frame)
        for c in ("profile", "context")
    }
    contexts = [
        context_features(p, c) for p, c in zip(loads["profile"], loads["context"], strict=True)
    ]
    ctx_frame = pd.DataFrame(
        [
            dict(featurize(p, prefix="p.") + featurize(c, prefix="c."))
            for p, c in zip(loads["profile"], loads["context"], strict=True)
        ]
    ).fillna(0.0)
    log = BanditLog(
        action=frame["variant"].map(names).to_numpy(),
        reward=frame["reward"].to_numpy(float),
        pscore=frame["propensity"].to_numpy(float),
        n_actions=len(names),
        context=ctx_frame,
        action_names=tuple(names),
    )
    return LoggedRequests(
        log,
        contexts,
        [action_features(v, {}) for v in names],
        eligible=[[names[v] for v in p] for p in probs],
    )


def read_obd(path: str | Path) -> LoggedRequests:
    """An Open Bandit Dataset campaign file (items are actions, the position is context)."""
    obd = load_obd(path)
    frame = obd.frame
    user_cols = [c for c in frame.columns if c.startswith("user_feature_")]
    records = frame[user_cols].astype(str).assign(position=frame["position"].astype(str))
    contexts = [context_features(None, r) for r in records.to_dict("records")]
    actions: list[Features]
    if obd.items is not None:
        items = obd.items
        actions = []
        for i in range(obd.log.n_actions):
            feats = items.loc[i].to_dict() if i in items.index else {}
            actions.append(action_features(str(i), feats))
    else:
        actions = [action_features(str(i), {}) for i in range(obd.log.n_actions)]
    return LoggedRequests(obd.log, contexts, actions, None, obd.action_features, obd.pair_features)


MAP_ROLES = BANDIT_LOGS.known


def read_mapped(
    path: str | Path,
    mapping: str | Mapping[str, str],
    *,
    encoding: str = "utf-8",
    decimal: str = ".",
) -> LoggedRequests:
    """Any log table described by a column map.

    Parameters
    ----------
    path : str or Path
        CSV or parquet file.
    mapping : str or dict
        ``action``, ``reward`` and ``pscore`` name one column each; ``context`` (optional) is a
        comma-separated list of columns or shell patterns (``user_feature_*``). Text is parsed by
        the one ``--map`` parser (``action=item_id,reward=click,pscore=propensity_score``).
    encoding, decimal : str
        Text encoding and decimal mark of a CSV file (``latin-1``, ``shift_jis``; ``","`` for
        ``0,25``); its separator is read from the header line.
    """
    mapping = parse_column_map(mapping, BANDIT_LOGS)
    frame = _read_table(Path(path), encoding=encoding, decimal=decimal, sep=None)
    for role in ("action", "reward", "pscore"):
        if mapping[role] not in frame.columns:
            raise DataError(
                f"map: column {mapping[role]!r} ({role}) is not in the logs", field=role
            )
    ctx_cols: list[str] = []
    for pattern in filter(None, (p.strip() for p in mapping.get("context", "").split(","))):
        hits = fnmatch.filter(frame.columns, pattern)
        if not hits:
            raise DataError(f"map: context pattern {pattern!r} matches no column", field="context")
        ctx_cols += [h for h in hits if h not in ctx_cols]
    names = sorted(frame[mapping["action"]].astype(str).unique())
    index = {n: i for i, n in enumerate(names)}
    ctx = frame[ctx_cols]
    contexts = [context_features(None, r) for r in ctx.to_dict("records")]
    log = BanditLog(
        action=frame[mapping["action"]].astype(str).map(index).to_numpy(),
        reward=frame[mapping["reward"]].to_numpy(float),
        pscore=frame[mapping["pscore"]].to_numpy(float),
        n_actions=len(names),
        context=ctx.reset_index(drop=True) if ctx_cols else None,
        action_names=tuple(names),
    )
    return LoggedRequests(log, contexts, [action_features(n, {}) for n in names])


def read_logs(
    path: str | Path,
    *,
    preset: str | None = None,
    mapping: str | Mapping[str, str] | None = None,
    encoding: str = "utf-8",
    decimal: str = ".",
) -> LoggedRequests:
    """Read logs by preset (``obd`` or ``decisions``) or by column map (exactly one of them);
    ``encoding`` and ``decimal`` describe a CSV file read with a map or a decisions export."""
    if (preset is None) == (mapping is None):
        raise DataError("logs: give either a preset or a column map", field="preset")
    CsvOptions(encoding=encoding, decimal=decimal)  # an unknown encoding or mark: named at once
    if mapping is not None:
        return read_mapped(path, mapping, encoding=encoding, decimal=decimal)
    if preset == "obd":
        return read_obd(path)
    if preset == "decisions":
        return read_decisions(path, encoding=encoding, decimal=decimal)
    raise DataError(f"preset: unknown {preset!r}; use obd or decisions", field="preset")


def logged_action_dist(
    policy: Policy, requests: LoggedRequests, progress: Callable[[int], Any] | None = None
) -> np.ndarray:
    """The policy's probabilities in every logged round, shape (n_rounds, n_actions).

    Parameters
    ----------
    policy : Policy
        Any policy (a saved learner from :func:`load_policy`, :class:`UniformPolicy` ...).
    requests : LoggedRequests
        The log.
    progress : callable, optional
        Called with the number of rounds done every 500 rounds.
    """
    log = requests.log
    out = np.zeros((log.n_rounds, log.n_actions))
    everyone = list(range(log.n_actions))
    for i, ctx in enumerate(requests.contexts):
        cand = requests.eligible[i] if requests.eligible is not None else everyone
        out[i, cand] = policy.probabilities(ctx, [requests.actions[a] for a in cand])
        if progress is not None and (i + 1) % 500 == 0:
            progress(i + 1)
    if progress is not None and len(requests.contexts) % 500:
        progress(len(requests.contexts))  # the last rounds too
    return out


def learn_from_log(
    policy: Policy, requests: LoggedRequests, progress: Callable[[int], Any] | None = None
) -> Policy:
    """Warm-start a policy from a log: one update per logged round, in log order."""
    log = requests.log
    everyone = list(range(log.n_actions))
    for i, ctx in enumerate(requests.contexts):
        cand: Sequence[int] = requests.eligible[i] if requests.eligible is not None else everyone
        a = int(log.action[i])
        if a in cand:
            policy.update(
                ctx,
                [requests.actions[c] for c in cand],
                list(cand).index(a),
                float(log.reward[i]),
                float(log.pscore[i]),
            )
        if progress is not None and (i + 1) % 500 == 0:  # skipped rounds count as done
            progress(i + 1)
    if progress is not None and len(requests.contexts) % 500:
        progress(len(requests.contexts))  # the last rounds too
    return policy
