"""A synthetic artwork-choice environment with known per-person preferences, to measure regret.

Real logs never tell what the other variants would have earned; here every person's expected
reward for every variant is known, so each policy's cumulative regret against the oracle (the
best variant for that person and request) and against the best fixed variant can be computed
exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from omotenashi.decisions._engine import DecisionEngine
from omotenashi.decisions._points import DecisionPoint, PolicySpec, RewardSpec, Variant
from omotenashi.errors import DataError

GENRES = ("romance", "action", "comedy", "drama", "horror", "family")
SEGMENTS = ("new", "regular", "champion")
DEVICES = ("mobile", "tv", "web")
_STYLES = {
    # variant id: (features, genres whose fans like it)
    "romantic_still": ({"style": "romantic", "faces": True}, ("romance", "drama")),
    "action_scene": ({"style": "action", "faces": False}, ("action", "horror")),
    "cast_closeup": ({"style": "cast", "faces": True}, ("comedy", "family")),
    "title_card": ({"style": "title", "faces": False}, ()),
}


@dataclass(frozen=True)
class Round:
    """One request of the simulation with every variant's expected reward."""

    customer_id: str
    profile: dict[str, Any]
    context: dict[str, Any]
    expected: np.ndarray  # shape (n_variants,), order of ArtworkSimulator.variant_ids


class ArtworkSimulator:
    """Which title artwork makes a person click, with known click probabilities.

    Each person has a favourite genre and a segment; a share ``ignore_share`` of people ignore
    artwork (same click rate for every variant; the policies are not told who). A request shows
    one title (with a genre) on a device. The click probability is a base rate (higher when the
    title is in the person's favourite genre and for champions) plus the artwork's appeal:
    ``appeal`` when the style matches the favourite genre, ``appeal / 3`` when it matches the
    title's genre, a small bonus for the cast close-up on TVs, and a small constant for the
    neutral title card, which suits everyone a little and nobody best.

    Parameters
    ----------
    n_people : int
        Size of the population.
    ignore_share : float
        Share of people whose clicks do not depend on the artwork.
    appeal : float
        Click-probability lift of a matching artwork.
    random_state : int, numpy.random.Generator or None
        Seed of the population and of the request stream.
    """

    def __init__(
        self,
        *,
        n_people: int = 5000,
        ignore_share: float = 0.2,
        appeal: float = 0.12,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        if n_people < 1:
            raise DataError(f"n_people: must be >= 1, got {n_people}", field="n_people")
        if not 0 <= ignore_share <= 1:
            raise DataError(
                f"ignore_share: must lie in [0, 1], got {ignore_share}", field="ignore_share"
            )
        if not 0 <= appeal <= 0.5:
            raise DataError(f"appeal: must lie in [0, 0.5], got {appeal}", field="appeal")
        self.n_people = n_people
        self.ignore_share = ignore_share
        self.appeal = appeal
        self._rng = np.random.default_rng(random_state)
        rng = self._rng
        self.genre_ = rng.integers(0, len(GENRES), n_people)
        self.segment_ = rng.choice(len(SEGMENTS), n_people, p=[0.5, 0.35, 0.15])
        self.ignores_ = rng.random(n_people) < ignore_share

    @property
    def variant_ids(self) -> tuple[str, ...]:
        """The artwork variants."""
        return tuple(_STYLES)

    def decision_point(
        self, policy: str = "linear-ts", params: dict[str, Any] | None = None
    ) -> DecisionPoint:
        """The matching decision point, with the given policy."""
        return DecisionPoint(
            name="title_artwork",
            variants=tuple(Variant(id=k, features=f) for k, (f, _) in _STYLES.items()),
            reward=RewardSpec(name="click"),
            policy=PolicySpec(kind=policy, params=params or {}),
        )

    def expected_reward(self, person: int, item_genre: int, device: int) -> np.ndarray:
        """Click probability of every variant for one person and request."""
        fav = GENRES[self.genre_[person]]
        base = (
            0.04 + 0.04 * (self.genre_[person] == item_genre) + 0.03 * (self.segment_[person] == 2)
        )
        out = np.full(len(_STYLES), base)
        if self.ignores_[person]:
            return out
        for j, (vid, (_, fans)) in enumerate(_STYLES.items()):
            lift = self.appeal * (fav in fans) + self.appeal / 3 * (GENRES[item_genre] in fans)
            if vid == "cast_closeup" and DEVICES[device] == "tv":
                lift += 0.03
            if vid == "title_card":
                lift += 0.04
            out[j] += lift
        return out

    def draw(self) -> Round:
        """Draw the next request."""
        rng = self._rng
        person = int(rng.integers(0, self.n_people))
        item_genre = int(rng.integers(0, len(GENRES)))
        device = int(rng.integers(0, len(DEVICES)))
        profile = {
            "top_genre": GENRES[self.genre_[person]],
            "segment": SEGMENTS[self.segment_[person]],
        }
        context = {"item_genre": GENRES[item_genre], "device": DEVICES[device]}
        return Round(
            f"p{person}", profile, context, self.expected_reward(person, item_genre, device)
        )

    def click(self, expected: float) -> float:
        """Draw a click with the given probability."""
        return float(self._rng.random() < expected)


@dataclass(frozen=True)
class SimulationResult:
    """Per-round expected rewards of a run, from which every regret curve follows.

    Attributes
    ----------
    chosen : numpy.ndarray of shape (n_rounds,)
        Expected reward of the chosen variant.
    expected : numpy.ndarray of shape (n_rounds, n_variants)
        Expected reward of every variant.
    clicks : numpy.ndarray of shape (n_rounds,)
        Observed rewards.
    seconds : float
        Wall time of the decide/reward loop.
    """

    chosen: np.ndarray
    expected: np.ndarray
    clicks: np.ndarray
    seconds: float

    @property
    def oracle_regret(self) -> np.ndarray:
        """Cumulative regret against the best variant of every round, shape (n_rounds,)."""
        return np.cumsum(self.expected.max(axis=1) - self.chosen)

    @property
    def best_fixed(self) -> int:
        """Index of the variant with the highest expected reward over the run's rounds."""
        return int(np.argmax(self.expected.sum(axis=0)))

    def fixed_regret(self, variant: int | None = None) -> np.ndarray:
        """Cumulative regret against the oracle of always showing one variant (best by default)."""
        j = self.best_fixed if variant is None else variant
        return np.cumsum(self.expected.max(axis=1) - self.expected[:, j])

    @property
    def decisions_per_second(self) -> float:
        """Throughput of decide + reward (including logging)."""
        return len(self.chosen) / self.seconds if self.seconds > 0 else float("inf")


def simulate(
    engine: DecisionEngine,
    env: ArtworkSimulator,
    n_rounds: int,
    *,
    point: str = "title_artwork",
    delay: int = 0,
    progress: Any = None,
) -> SimulationResult:
    """Run ``n_rounds`` requests through ``engine`` and record expected rewards.

    Parameters
    ----------
    engine : DecisionEngine
        With ``point`` registered (see :meth:`ArtworkSimulator.decision_point`).
    env : ArtworkSimulator
        The environment.
    n_rounds : int
        Number of requests.
    point : str
        Decision point name.
    delay : int
        Rewards are sent this many rounds after their decision (delayed feedback).
    progress : callable, optional
        Called with the number of rounds done, every 1,000 rounds.

    Returns
    -------
    SimulationResult
    """
    import time

    if n_rounds < 1:
        raise DataError(f"n_rounds: must be >= 1, got {n_rounds}", field="n_rounds")
    variant_pos = {v: i for i, v in enumerate(env.variant_ids)}
    chosen = np.empty(n_rounds)
    expected = np.empty((n_rounds, len(variant_pos)))
    clicks = np.empty(n_rounds)
    pending: list[tuple[str, float]] = []
    start = time.perf_counter()
    for t in range(n_rounds):
        r = env.draw()
        d = engine.decide(point, r.customer_id, r.profile, r.context)
        mu = r.expected[variant_pos[d.variant]]
        chosen[t], expected[t] = mu, r.expected
        clicks[t] = env.click(mu)
        pending.append((d.decision_id, clicks[t]))
        if len(pending) > delay:
            engine.reward(*pending.pop(0))
        if progress is not None and (t + 1) % 1000 == 0:
            progress(t + 1)
    if progress is not None and n_rounds % 1000:
        progress(n_rounds)  # the last rounds too: a bar ends at the rounds really run
    for decision_id, value in pending:
        engine.reward(decision_id, value)
    return SimulationResult(chosen, expected, clicks, time.perf_counter() - start)
