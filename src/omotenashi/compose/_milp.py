"""Named linear constraints over 0/1 choices, solved exactly by HiGHS (``scipy.optimize.milp``).

Bundles and plans are small 0/1 programmes; a well-kept MILP solver proves the optimum, so no
heuristic of ours is needed. What HiGHS does not give is *which* constraint makes a programme
infeasible: :func:`conflicting` finds an irreducible set of named constraints by deletion
(drop one; if the rest is still infeasible it was not needed), so an error can name them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from omotenashi.errors import DataError

#: Seconds HiGHS may take for one programme.
TIME_LIMIT_S = 30.0


@dataclass
class Row:
    """One linear constraint ``lb <= sum(coef * x[index]) <= ub`` with a name people read."""

    name: str
    family: str
    coefs: dict[int, float]
    lb: float = -np.inf
    ub: float = np.inf


@dataclass
class Programme:
    """Maximise ``utility @ x`` over binary ``x`` subject to named rows."""

    utility: np.ndarray
    rows: list[Row] = field(default_factory=list)
    #: HiGHS presolve: its probing costs more than it saves on flat bundle programmes (10-30x
    #: slower at 1,000 parts), and pays off on the linked day-by-day ones of trip plans.
    presolve: bool = True
    #: Among choices of equal utility, the one of least ``tiebreak @ x`` wins (e.g. price), so
    #: the answer does not depend on the solver's path; ``None``: no preference.
    tiebreak: np.ndarray | None = None

    def add(
        self,
        name: str,
        family: str,
        coefs: dict[int, float],
        lb: float = -np.inf,
        ub: float = np.inf,
    ) -> None:
        self.rows.append(Row(name, family, coefs, lb, ub))


class Infeasible(DataError):
    """No choice meets the constraints; ``constraints`` names a smallest conflicting set."""

    def __init__(self, constraints: Sequence[str], what: str = "bundle") -> None:
        self.constraints = list(constraints)
        listed = "; ".join(self.constraints)
        if len(self.constraints) == 1:
            text = f"constraints: no {what} meets the constraint {listed}"
        else:
            text = f"constraints: no {what} meets these constraints together: {listed}"
        super().__init__(text, field="constraints")


#: Utilities are compared in millionths: whole numbers to the solver, so its absolute gap
#: tolerance (1e-6) cannot take a worse choice for the best one.
SCALE = 1_000_000


def _objective(utility: np.ndarray, tiebreak: np.ndarray | None) -> np.ndarray:
    """Minimised by HiGHS: minus the utility in millionths, plus a tie-break whose total over
    any choice stays below one millionth of utility."""
    c = -np.round(np.asarray(utility, dtype=float) * SCALE)
    if tiebreak is not None:
        weights = np.clip(np.asarray(tiebreak, dtype=float), 0, None)
        total = float(weights.sum())
        if total > 0:
            c = c + 0.5 * weights / total
    return c


def _solve(objective: np.ndarray, rows: Sequence[Row], presolve: bool = True) -> np.ndarray | None:
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array

    n = len(objective)
    constraints = []
    if rows:
        data, ri, ci = [], [], []
        for r, row in enumerate(rows):
            for j, v in row.coefs.items():
                ri.append(r)
                ci.append(j)
                data.append(v)
        a = csr_array((data, (ri, ci)), shape=(len(rows), n))
        constraints.append(LinearConstraint(a, [r.lb for r in rows], [r.ub for r in rows]))
    options = {"mip_rel_gap": 0.0, "presolve": presolve, "time_limit": TIME_LIMIT_S}
    res = milp(
        objective,
        integrality=np.ones(n),
        bounds=Bounds(np.zeros(n), np.ones(n)),
        constraints=constraints,
        options=options,
    )
    if res.status == 2:  # infeasible
        return None
    if res.status == 1:  # time limit: an answer without proof is not what was promised
        raise DataError(
            f"solver: no proven optimum within {TIME_LIMIT_S:g} s; make the request smaller "
            "(fewer parts or days)",
            field="solver",
        )
    if res.x is None:
        raise DataError(f"solver: {res.message}", field="solver")
    return np.round(res.x).astype(bool)


def conflicting(prog: Programme) -> list[str]:
    """An irreducible set of row names that cannot hold together (deletion filter, by family
    first so that catalogues with many rows need few solves)."""
    rows = list(prog.rows)
    zero = np.zeros(len(prog.utility))
    for family in dict.fromkeys(r.family for r in rows):
        trial = [r for r in rows if r.family != family]
        if _solve(zero, trial, prog.presolve) is None:
            rows = trial
    i = 0
    while i < len(rows):
        trial = rows[:i] + rows[i + 1 :]
        if _solve(zero, trial, prog.presolve) is None:
            rows = trial
        else:
            i += 1
    return [r.name for r in rows]


def best(prog: Programme, k: int = 1, what: str = "bundle") -> list[np.ndarray]:
    """The ``k`` best distinct choices, best first (each later one excludes the earlier ones by
    a no-good cut). Raises :class:`Infeasible` naming the conflicting constraints when none."""
    rows = list(prog.rows)
    found: list[np.ndarray] = []
    for _ in range(k):
        x = _solve(_objective(prog.utility, prog.tiebreak), rows, prog.presolve)
        if x is None:
            break
        found.append(x)
        chosen = np.flatnonzero(x)
        cut = {int(j): 1.0 for j in chosen}
        for j in np.flatnonzero(~x):
            cut[int(j)] = -1.0
        rows.append(Row("not an earlier answer", "cut", cut, ub=len(chosen) - 1))
    if not found:
        raise Infeasible(conflicting(prog), what)
    return found


__all__ = ["SCALE", "TIME_LIMIT_S", "Infeasible", "Programme", "Row", "best", "conflicting"]
