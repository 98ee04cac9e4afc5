"""From store events to the weighted interaction table every recommender is fitted on.

Recommenders never read raw events: one documented function turns events into
``(user_id, item_id, weight, timestamp)`` rows, so the weight given to a view, a purchase or a
rating is visible and settable in one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from omotenashi.errors import DataError

#: Default weight per event type. A purchase says much more than a view; a return cancels most of
#: a purchase; ``rating`` events are weighted by the rating itself (see ``rating_weights``).
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 1.0,
    "add_to_wishlist": 2.0,
    "add_to_cart": 3.0,
    "purchase": 5.0,
    "return": -4.0,
    "rating": 1.0,
}


#: Ratings on a scale whose top is this are stars: liked from ``STARS_THRESHOLD`` up.
STARS_TOP = 5.0
STARS_THRESHOLD = 4.0
#: On any other scale liking starts this far up the range (4 is three quarters up 1-5 stars).
LIKED_FROM = 0.75


#: Types whose ``quantity`` counts units of one act (bought, returned, put in the cart), not
#: repeats of it; a rating has none. On every other type (a view, a click, a custom ``play``) a
#: quantity counts repeats: an aggregated log (user, artist, plays) writes one row per pair.
UNIT_TYPES = ("purchase", "return", "add_to_cart", "rating")


def repeats_factor(types: pd.Series, quantity: pd.Series) -> np.ndarray:
    """Per event: ``1 + ln(quantity)`` where its quantity counts repeats (a type not in
    :data:`UNIT_TYPES`, a quantity above 1), else 1. Log-damped, as implicit-feedback
    confidence usually is (Hu, Koren & Volinsky 2008): 500 plays of an artist say more than
    one, not 500 times more; 1 play, or none written, weighs as one event."""
    q = pd.to_numeric(quantity, errors="coerce").to_numpy(dtype=float)
    repeats = ~types.isin(UNIT_TYPES).to_numpy() & (q > 1)  # NaN > 1 is False
    return np.where(repeats, 1.0 + np.log(np.where(repeats, q, 1.0)), 1.0)


@dataclass(frozen=True)
class EventWeights:
    """How much each event type counts towards a (customer, item) interaction.

    The weight of a pair is the sum over its events of ``weights[type]`` (times the rating factor
    for ``rating`` events); pairs whose total is not positive (rated below the threshold; a return
    of a purchase the data do not hold: with the defaults a purchase and its return sum to 1)
    are not learnt from, but the customer has met the item: see
    ``interactions_from_events(keep_unliked=True)``. Types not listed count ``default``. An
    event whose ``quantity`` counts repeats (plays of an aggregated log: any type but
    :data:`UNIT_TYPES`) counts ``1 + ln(quantity)`` times its weight (:func:`repeats_factor`).

    Parameters
    ----------
    weights : mapping of str to float
        Weight per event type.
    default : float
        Weight of event types that are not listed (0 ignores them).
    rating_weights : mapping of float to float or None
        For ``rating`` events: weight by rating value, e.g. ``{1: -1, 2: 0, 3: 0.5, 4: 1, 5: 1.5}``.
        None (default): 0 below the threshold, ``1 + (rating - threshold) / unit`` at or above it.
    rating_threshold : float or None
        Ratings below this are not positive (``rating_weights`` None). None (default): where the
        ratings' own scale puts it (:meth:`on_scale`): 4 on five stars, as far up any other scale.
    rating_unit : float or None
        The rating points one more unit of weight takes (one star on five stars). None
        (default): from the scale (:meth:`on_scale`).
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))
    default: float = 1.0
    rating_weights: Mapping[float, float] | None = None
    rating_threshold: float | None = None
    rating_unit: float | None = None

    def __post_init__(self) -> None:
        for name in ("rating_threshold", "rating_unit"):
            value = getattr(self, name)
            if value is None:
                continue
            if not (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                what = name.replace("_", " ")
                raise DataError(f"{what} must be a number, got {value!r}", field=name)
        if self.rating_unit is not None and not self.rating_unit > 0:
            raise DataError(f"rating unit must be > 0, got {self.rating_unit}", field="rating_unit")

    @property
    def scale_open(self) -> bool:
        """Whether the rating threshold or unit is still to be set for the ratings' scale
        (:meth:`on_scale`): the ratings are weighed by them, not by a table."""
        return self.rating_weights is None and None in (self.rating_threshold, self.rating_unit)

    def on_scale(self, low: float | None, high: float | None) -> EventWeights:
        """These weights with the rating threshold and unit that were left open (None) set for
        ratings from ``low`` to ``high`` (the lowest and highest in the data; None: none).

        A scale whose top is 5 is read as stars (0.5-5, 1-5): threshold 4, unit 1, as on
        MovieLens. Any other scale keeps the same proportions: liking starts three quarters of
        the way up (7.75 on 1-10, 0.75 on 0-1 likes), and a quarter of the range is one unit,
        so that the top rating weighs 2 on every scale. A threshold fixed at 4 would make every
        rating on 0-1 a dislike and weigh a 10 out of 10 seven times a 4."""
        threshold, unit = self.rating_threshold, self.rating_unit
        if threshold is not None and unit is not None:
            return self
        stars = low is None or high is None or high == STARS_TOP or not high > low
        if threshold is None:
            if stars:
                threshold = STARS_THRESHOLD if high is None or high >= STARS_THRESHOLD else high
            else:
                threshold = low + LIKED_FROM * (high - low)
        if unit is None:
            unit = 1.0 if stars else (high - low) * (1.0 - LIKED_FROM)
        return replace(self, rating_threshold=float(threshold), rating_unit=float(unit))

    def for_type(self, event_type: str) -> float:
        """Weight of one event of ``event_type``."""
        return float(self.weights.get(event_type, self.default))

    def weight(
        self, event_type: str, rating: float | None = None, quantity: float | None = None
    ) -> float:
        """Weight of one event as a training sums it into its pair: its type's weight, a
        rating's times its rating factor, times ``1 + ln(quantity)`` where its quantity counts
        repeats (:func:`repeats_factor`)."""
        weight = self.for_type(event_type)
        if event_type == "rating" and weight != 0:
            value = np.array([np.nan if rating is None else rating])
            # one rating says nothing of its scale: open settings are read as stars (a trained
            # model's weights have them set: ``services.saved_weights``)
            weight *= float(_ratings_factor(value, self.on_scale(None, None))[0])
        if quantity is not None and quantity > 1 and event_type not in UNIT_TYPES:
            weight *= 1.0 + math.log(quantity)
        return weight

    def not_liked(self, event_type: str, rating: float | None = None) -> bool:
        """Whether one event says its customer does not like its item: a counted type (weight
        not 0) whose weight (:meth:`weight`) is not positive (a return, a rating below the
        threshold): such an item is seen, not a sign of taste
        (``interactions_from_events(keep_unliked=True)``)."""
        return self.for_type(event_type) != 0 and self.weight(event_type, rating) <= 0


def rating_range(ratings: pd.Series | np.ndarray) -> tuple[float, float] | tuple[None, None]:
    """The lowest and highest of ``ratings`` (None, None without any number)."""
    values = np.asarray(ratings, dtype=float)
    values = values[~np.isnan(values)]
    return (float(values.min()), float(values.max())) if values.size else (None, None)


def _ratings_factor(ratings: pd.Series | np.ndarray, weights: EventWeights) -> np.ndarray:
    """Each rating's factor by ``weights``, whose threshold and unit are set (``on_scale``)."""
    values = np.asarray(ratings, dtype=float)
    if weights.rating_weights is not None:
        mapped = pd.Series(values).map(dict(weights.rating_weights))
        return mapped.fillna(0.0).to_numpy()
    threshold, unit = weights.rating_threshold, weights.rating_unit
    above = values >= threshold
    return np.where(np.isnan(values), 1.0, np.where(above, 1.0 + (values - threshold) / unit, 0))


def interactions_from_events(
    events: pd.DataFrame,
    weights: EventWeights | Mapping[str, float] | None = None,
    *,
    user_column: str = "person_id",
    keep_unliked: bool = False,
) -> pd.DataFrame:
    """Aggregate store events into weighted (user, item) interactions.

    Parameters
    ----------
    events : pandas.DataFrame
        The store's events frame: ``person_id``, ``type``, ``item_id`` and ``timestamp`` are used,
        ``rating`` and ``quantity`` (repeats: :func:`repeats_factor`) when present. Events
        without an item are ignored.
    weights : EventWeights or mapping of str to float, optional
        Event-type weights; a plain mapping replaces the type table and keeps the other defaults.
    user_column : str
        Column holding the user id (``person_id``: the customer, or the anonymous visitor).
    keep_unliked : bool
        Also keep, with weight 0, the pairs whose events add up to nothing positive (rated
        below the threshold, a return with no purchase). A recommender learns nothing from them but
        counts them as seen: it does not offer a customer back an item they rated 1. Pairs
        whose every event is of a type weighted 0 (ignored types) are never kept.

    Returns
    -------
    pandas.DataFrame
        Columns ``user_id``, ``item_id`` (str), ``weight`` (float, > 0; or 0 for the unliked
        pairs of ``keep_unliked``), ``timestamp`` (last event of the pair) and ``n_events``;
        one row per pair, sorted by user then time.

    Raises
    ------
    DataError
        A required column is missing.
    """
    if weights is None:
        weights = EventWeights()
    elif not isinstance(weights, EventWeights):
        weights = EventWeights(weights=dict(weights))
    required = (user_column, "type", "item_id", "timestamp")
    missing = [c for c in required if c not in events.columns]
    if missing:
        raise DataError(f"events lack column(s) {missing}", field=missing[0])
    frame = events[events["item_id"].notna() & events[user_column].notna()]
    types = frame["type"].astype(str)
    w = types.map(dict(weights.weights)).fillna(weights.default).to_numpy(dtype=float)
    counted = w != 0  # an event of an ignored type does not make the item seen
    rated_low = None  # per event: the rating that says "not liked"
    if "rating" in frame.columns:
        is_rating = (types == "rating").to_numpy()
        if weights.scale_open:  # (a training sets them once, for the whole store)
            weights = weights.on_scale(*rating_range(frame["rating"].to_numpy(float)[is_rating]))
        factor = _ratings_factor(frame["rating"], weights)
        w = np.where(is_rating, w * factor, w)
        rated_low = is_rating & counted & (factor <= 0) & frame["rating"].notna().to_numpy()
    if "quantity" in frame.columns:  # plays, views ... of an aggregated log
        w = w * repeats_factor(types, frame["quantity"])
    # grouped by one integer key per (user, item) with sorted numpy reductions rather than a
    # group-by of two string columns: at 20 million events that took most of a training's
    # memory and minutes
    users, user_ids = pd.factorize(frame[user_column].astype(str))
    items, item_ids = pd.factorize(frame["item_id"].astype(str))
    width = max(len(item_ids), 1)
    key = users.astype(np.int64) * width + items
    times = pd.DatetimeIndex(frame["timestamp"])
    ticks = times.asi8
    order = np.argsort(key, kind="stable")
    sorted_keys = key[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if len(key) else []
    pair = sorted_keys[starts]
    weight = np.add.reduceat(w[order], starts) if len(key) else np.zeros(0)
    last = np.maximum.reduceat(ticks[order], starts) if len(key) else np.zeros(0, np.int64)
    n_events = np.diff(np.r_[starts, len(key)]).astype(np.int64)
    first_seen = order[starts] if len(key) else np.zeros(0, np.int64)  # stable: the earliest row
    if rated_low is not None and rated_low.any():
        # a pair whose latest rating is below the threshold is not liked, whatever else it
        # holds: the views before a 1-star rating are no sign of taste (as the live path reads
        # one new low rating: ``EventWeights.not_liked``)
        weight = np.where(
            np.isin(pair, _latest_rating_low(key, ticks, is_rating, rated_low)), 0.0, weight
        )
    keep = weight > 0
    if keep_unliked and len(key):
        met = np.logical_or.reduceat(counted[order], starts)
        keep |= met
        weight = np.where(weight > 0, weight, 0.0)
    pair, weight, last, n_events, first_seen = (
        a[keep] for a in (pair, weight, last, n_events, first_seen)
    )
    user_of, item_of = pair // width, pair % width
    # by user id, then time; pairs of one user and one time in the order they first occurred
    user_rank = np.empty(len(user_ids), dtype=np.int64)
    user_rank[np.argsort(np.asarray(user_ids, dtype=object), kind="stable")] = np.arange(
        len(user_ids)
    )
    final = np.lexsort((first_seen, last, user_rank[user_of]))
    return pd.DataFrame(
        {
            "user_id": user_ids.take(user_of[final]),
            "item_id": item_ids.take(item_of[final]),
            "weight": weight[final],
            "timestamp": pd.DatetimeIndex(
                last[final].astype(f"datetime64[{times.unit}]"), tz=times.tz
            ),
            "n_events": n_events[final],
        }
    )


def _latest_rating_low(
    key: np.ndarray, ticks: np.ndarray, is_rating: np.ndarray, rated_low: np.ndarray
) -> np.ndarray:
    """The pair keys whose latest rating (by time, then by row) is one that says "not liked"
    (a later, higher rating takes it back)."""
    rows = np.flatnonzero(is_rating)
    by_pair = np.lexsort((rows, ticks[rows], key[rows]))  # by pair, then time, then row
    ordered = rows[by_pair]
    keys = key[ordered]
    latest = ordered[np.r_[keys[1:] != keys[:-1], True]]
    return key[latest[rated_low[latest]]]


def check_interactions(interactions: pd.DataFrame) -> pd.DataFrame:
    """Validate an interaction table and return a clean copy.

    Required columns: ``user_id`` and ``item_id``. Optional: ``weight`` (default 1.0, must be
    finite and >= 0; 0 marks a pair the customer met but did not like, which is learnt from not
    at all but counts as seen) and ``timestamp``. Ids become strings; duplicate pairs are summed
    (latest time kept).

    Raises
    ------
    DataError
        Not a DataFrame, a missing column, a null id or a bad weight.
    """
    if not isinstance(interactions, pd.DataFrame):
        raise DataError(
            f"interactions must be a pandas DataFrame, got {type(interactions).__name__}"
        )
    for col in ("user_id", "item_id"):
        if col not in interactions.columns:
            raise DataError(
                f"interactions lack the column {col!r}; they have {list(interactions.columns)}",
                field=col,
            )
        if interactions[col].isna().any():
            raise DataError(f"interactions have null values in {col!r}", field=col)
    frame = pd.DataFrame(
        {
            "user_id": interactions["user_id"].astype(str).to_numpy(),
            "item_id": interactions["item_id"].astype(str).to_numpy(),
        }
    )
    if "weight" in interactions.columns:
        weight = pd.to_numeric(interactions["weight"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(weight) | (weight < 0)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"interactions column 'weight' must be finite and >= 0; row {first} has "
                f"{interactions['weight'].iloc[first]!r}",
                field="weight",
            )
        frame["weight"] = weight
    else:
        frame["weight"] = 1.0
    if "timestamp" in interactions.columns:
        # the column's own array, positionally: to_numpy() of a time-zone-aware column builds a
        # Timestamp object per row (a third of a second per 200,000 rows, on every fit)
        frame["timestamp"] = interactions["timestamp"].array
    else:
        frame["timestamp"] = pd.NaT
    if frame.duplicated(["user_id", "item_id"]).any():
        frame = frame.groupby(["user_id", "item_id"], sort=False, as_index=False).agg(
            weight=("weight", "sum"), timestamp=("timestamp", "max")
        )
    return frame


def sessionize(
    events: pd.DataFrame, *, user_column: str = "person_id", gap: str | pd.Timedelta = "30min"
) -> pd.DataFrame:
    """Cut each user's event stream into sessions at inactivity gaps.

    Returns the events with a new ``session_id`` column (``"<user>#<n>"``), sorted by session and
    time. Events of one user more than ``gap`` apart start a new session.
    """
    for col in (user_column, "item_id", "timestamp"):
        if col not in events.columns:
            raise DataError(f"events lack the column {col!r}", field=col)
    frame = events[events["item_id"].notna()].sort_values(
        [user_column, "timestamp"], kind="mergesort"
    )
    user = frame[user_column].astype(str)
    new_user = user.ne(user.shift())
    gap_hit = frame["timestamp"].diff() > pd.Timedelta(gap)
    number = (new_user | gap_hit).astype(int).groupby(user.to_numpy()).cumsum()
    frame = frame.assign(
        session_id=user + "#" + number.astype(str), item_id=frame["item_id"].astype(str)
    )
    return frame.reset_index(drop=True)
