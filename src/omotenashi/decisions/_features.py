"""Turn profile, request context and variant features into named numeric features.

Profiles and contexts arrive as plain dicts; policies need numbers. Features are kept as
``(name, value)`` pairs rather than hashed columns so that linear learners can grow an exact
vocabulary (no collisions) and Vowpal Wabbit can receive the same names in its text format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from omotenashi.errors import DataError

Features = list[tuple[str, float]]
"""Named features of one context or one action: ``[(name, value), ...]``."""

BIAS = "1"


def _squash(x: float) -> float:
    # counts, days and money span orders of magnitude: sign(x) * log(1 + |x|) keeps them usable
    return math.copysign(math.log1p(abs(x)), x)


def featurize(
    values: Mapping[str, Any] | None, *, prefix: str = "", where: str = "context"
) -> Features:
    """Encode a flat or nested dict as named features.

    Text becomes an indicator ``key=value``; booleans become ``key`` with 1/0; numbers become
    ``key`` with ``sign(x) log(1 + |x|)``; lists of text become one indicator per element; nested
    dicts are flattened with dots; ``None`` is skipped.

    Parameters
    ----------
    values : mapping or None
        The profile or request context.
    prefix : str
        Prepended to every name (used to keep profile and context apart).
    where : str
        Name of the argument, for error messages.

    Returns
    -------
    list of (str, float)

    Raises
    ------
    DataError
        For a value that is not text, number, boolean, list of text, dict or None, or a number
        that is not finite.

    Examples
    --------
    >>> featurize({"segment": "champion", "recency_days": 0, "vip": True})
    [('segment=champion', 1.0), ('recency_days', 0.0), ('vip', 1.0)]
    """
    out: Features = []
    if values is None:
        return out
    if not isinstance(values, Mapping):
        raise DataError(f"{where}: expected a dict, got {type(values).__name__}", field=where)
    for key, value in values.items():
        name = f"{prefix}{key}"
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((name, 1.0 if value else 0.0))
        elif isinstance(value, str):
            out.append((f"{name}={value}", 1.0))
        elif isinstance(value, int | float | np.integer | np.floating):
            x = float(value)
            if not math.isfinite(x):
                raise DataError(f"{where}: field {name!r} is not a finite number", field=name)
            out.append((name, _squash(x)))
        elif isinstance(value, Mapping):
            out.extend(featurize(value, prefix=f"{name}.", where=where))
        elif isinstance(value, Sequence | set | frozenset):
            for item in value:
                if not isinstance(item, str | int) or isinstance(item, bool):
                    raise DataError(
                        f"{where}: field {name!r} may only list text or integers, "
                        f"got {type(item).__name__}",
                        field=name,
                    )
                out.append((f"{name}={item}", 1.0))
        else:
            raise DataError(
                f"{where}: field {name!r} has unsupported type {type(value).__name__} "
                "(use text, number, boolean, list of text or dict)",
                field=name,
            )
    return out


def context_features(
    profile: Mapping[str, Any] | None, context: Mapping[str, Any] | None
) -> Features:
    """Features of a request: the customer's profile (prefix ``p.``) and the request (``c.``)."""
    return featurize(profile, prefix="p.", where="profile") + featurize(
        context, prefix="c.", where="context"
    )


def action_features(variant_id: str, features: Mapping[str, Any]) -> Features:
    """Features of a variant: its id indicator plus its declared features (prefix ``v.``)."""
    return [(f"variant={variant_id}", 1.0), *featurize(features, prefix="v.", where="variant")]


class FeatureIndex:
    """Grow-only vocabulary from crossed feature names to dense columns, with a size cap.

    Crossed features ``context x action`` (plus each side alone and a bias) are what linear
    learners see, so a variant's effect can depend on the person. A column is named by the pair
    ``(context feature, action feature)``. Pairs beyond ``max_features`` are dropped and counted
    in ``n_dropped_``.

    Parameters
    ----------
    max_features : int
        Largest vocabulary.
    """

    def __init__(self, max_features: int = 4096) -> None:
        self.max_features = max_features
        self.names_: list[tuple[str, str]] = []
        self.n_dropped_ = 0
        self._ctx: dict[str, int] = {BIAS: 0}
        self._act: dict[str, int] = {BIAS: 0}
        self._pair = np.full((8, 8), -1, dtype=np.int64)  # (ctx id, act id) -> column

    def __len__(self) -> int:
        return len(self.names_)

    @staticmethod
    def _ids(vocab: dict[str, int], feats: Features) -> tuple[np.ndarray, np.ndarray]:
        ids = [0]
        vals = [1.0]
        for name, value in feats:
            j = vocab.get(name)
            if j is None:
                j = vocab[name] = len(vocab)
            ids.append(j)
            vals.append(value)
        return np.asarray(ids), np.asarray(vals)

    def _fit_pair_table(self) -> None:
        rows, cols = self._pair.shape
        need_r, need_c = len(self._ctx), len(self._act)
        if need_r > rows or need_c > cols:
            table = np.full((max(need_r, 2 * rows), max(need_c, 2 * cols)), -1, dtype=np.int64)
            table[:rows, :cols] = self._pair
            self._pair = table

    def crossed(
        self, ctx: Features, actions: Sequence[Features], *, grow: bool = True
    ) -> np.ndarray:
        """Dense matrix of crossed features, shape (n_actions, len(self)) after growing.

        Row ``a`` holds ``c x f`` for every context feature ``c`` (and the bias) and every
        feature ``f`` of action ``a`` (and the bias).
        """
        cids, cvals = self._ids(self._ctx, ctx)
        acts = [self._ids(self._act, a) for a in actions]
        self._fit_pair_table()
        blocks = []
        for aids, avals in acts:
            cols = self._pair[np.ix_(cids, aids)]
            vals = np.outer(cvals, avals)
            new = (cols < 0) & (vals != 0.0)
            if new.any():
                for r, c in zip(*np.nonzero(new), strict=True):
                    ci, ai = cids[r], aids[c]
                    if self._pair[ci, ai] >= 0:  # repeated name within this request
                        cols[r, c] = self._pair[ci, ai]
                    elif grow and len(self.names_) < self.max_features:
                        self._pair[ci, ai] = cols[r, c] = len(self.names_)
                        self.names_.append((_name(self._ctx, ci), _name(self._act, ai)))
                    elif grow:
                        self.n_dropped_ += 1
            blocks.append((cols.ravel(), vals.ravel()))
        d = len(self.names_)
        x = np.zeros((len(actions), d))
        for i, (cols, vals) in enumerate(blocks):
            keep = cols >= 0
            x[i] = np.bincount(cols[keep], weights=vals[keep], minlength=d)
        return x

    def state(self) -> dict[str, np.ndarray]:
        """The vocabulary as two string arrays (context side, action side)."""
        return {
            "names_ctx": np.array([c for c, _ in self.names_], dtype=str),
            "names_act": np.array([a for _, a in self.names_], dtype=str),
        }

    def set_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore a vocabulary saved with :meth:`state`."""
        pairs = zip(arrays["names_ctx"].tolist(), arrays["names_act"].tolist(), strict=True)
        self.names_ = []
        self._ctx, self._act = {BIAS: 0}, {BIAS: 0}
        self._pair = np.full((8, 8), -1, dtype=np.int64)
        for c, a in pairs:
            ci = self._ctx.setdefault(str(c), len(self._ctx))
            ai = self._act.setdefault(str(a), len(self._act))
            self._fit_pair_table()
            self._pair[ci, ai] = len(self.names_)
            self.names_.append((str(c), str(a)))


def _name(vocab: dict[str, int], index: int) -> str:
    # vocabularies are small and names are only looked up when a new pair appears
    for name, j in vocab.items():
        if j == index:
            return name
    raise KeyError(index)
