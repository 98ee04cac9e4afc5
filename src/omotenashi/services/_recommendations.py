"""Recommendation use cases: for a customer, a visit, every customer, similar items — and the
served answers of the HTTP API (JSON bytes, cached, with the live visit as context).

A request names someone by the id it has: a customer id, one merged into another, or an
anonymous id linked to a customer. :class:`Recommendations` resolves that id to the canonical
person once (``Identities.person``) and asks the model with the person's id, so a merged-away id
or an alias gets the person's recommendations; the served answers are cached by that person.
Models are loaded once per engine (``Omotenashi.recommendations``) and swapped when a new
version is saved, for the command line and the server alike.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from omotenashi.consent import INTEREST_BOOST, Personalization, Preferences
from omotenashi.errors import ModelNotReady, NotFound
from omotenashi.events import clean_id
from omotenashi.recommend import Recommendation, Recommender, Rules, load_model, plain_why
from omotenashi.services._training import (
    SESSION_MODEL,
    ModelSet,
    models_stamp,
    saved_weights,
    train,
)
from omotenashi.storage import PersonEvent, PersonKeys

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi
    from omotenashi.services._traffic import Traffic
    from omotenashi.services._workspaces import Workspace

DEFAULT_N = 10
#: The most of one customer's events since the model's training an answer reads (the newest):
#: their items are all left out while seen items are (a wholesaler buys hundreds of lines a
#: month) ...
UNLEARNT_LIMIT = 1_000
#: ... and the newest this many liked ones are the answer's context (the model knows the long
#: history before them already).
UNLEARNT_CONTEXT = 200
#: A request's context: the visit's items (each as often as it occurs), or items with weights
#: (the events since the training, weighed: :func:`add_unlearnt`).
Context = Sequence[str] | dict[str, float]
#: Events read per page when a batch looks for the customers with events since the training.
_UNLEARNT_PAGE = 50_000


def make_rules(
    *,
    include_seen: bool = False,
    categories: Sequence[str] | None = None,
    exclude_categories: Sequence[str] | None = None,
    exclude_items: Sequence[str] | str | None = None,
    diversity: float = 0.0,
    novelty: float = 0.0,
) -> Rules:
    """Business rules from a face's options (``exclude_items`` may be ``A,B,C`` text)."""
    if isinstance(exclude_items, str):
        exclude_items = [i.strip() for i in exclude_items.split(",") if i.strip()]
    return Rules(
        exclude_seen=not include_seen,
        include_categories=tuple(categories) if categories else None,
        exclude_categories=tuple(exclude_categories or ()),
        exclude_items=tuple(exclude_items or ()),
        diversity=diversity,
        popularity_penalty=novelty,
    )


class Recommended(list[Recommendation]):
    """Recommendations (a list, best first) that also say how personal they are:
    ``personalized`` (False: nothing of the customer's history or profile was used),
    ``mode`` (``full``, ``light`` or ``off``) and ``reason`` (why it is not ``full``)."""

    def __init__(self, recs: Sequence[Recommendation], gate: Personalization) -> None:
        super().__init__(recs)
        self.personalized = gate.personalized
        self.mode = gate.mode
        self.reason = gate.reason

    def why(self) -> list[str]:
        """ "Why am I seeing this?" for each recommendation, in plain words."""
        note = self.reason if self.mode == "off" else None
        return [plain_why(r, note) for r in self]


def without_items(rules: Rules, items: Sequence[str]) -> Rules:
    """``rules`` that also leave ``items`` out (the same rules when there are none)."""
    if not items:
        return rules
    return replace(rules, exclude_items=tuple(dict.fromkeys((*rules.exclude_items, *items))))


def unlearnt_items(
    reads: Any, keys: PersonKeys, meta: dict[str, Any]
) -> tuple[dict[str, float], list[str]]:
    """What a customer did after the model was trained: their events stored after the
    ``events_seq`` in its metadata (none for a model saved without it; the newest
    :data:`UNLEARNT_LIMIT`), weighed as the next training would weigh them
    (:func:`split_unlearnt`). Without this, an item bought an hour ago is recommended until
    the next training."""
    seq = meta.get("events_seq")
    if seq is None:
        return {}, []
    return split_unlearnt(reads.person_items_after(keys, int(seq), UNLEARNT_LIMIT), meta)


def split_unlearnt(
    rows: Sequence[PersonEvent], meta: dict[str, Any]
) -> tuple[dict[str, float], list[str]]:
    """A person's events since the training, ``(seq, item_id, type, rating, quantity)`` oldest
    first, as ``(added, unliked)``, judged by the model's own event weights as a training
    judges a pair.

    ``added``: per item, what its events add to its pair's weight (a purchase 5, a view 1, a
    return -4; 12 plays of a song ``1 + ln 12`` times a play's), the item last met last;
    ``-inf`` where the item's latest rating is low (the pair is not liked whatever it held,
    and a later good rating takes that back). They join the answer's context with those
    weights, added to the history the model learnt: a purchase returned since the training
    leaves a purchase made before it at 1, as the next training would. ``unliked``: the
    items these events alone do not make liked (they add 0 or less, or were rated low at
    last): seen, and left out of answers."""
    if not rows:
        return {}, []
    weights = saved_weights(meta)
    added: dict[str, float] = {}
    rated_low: dict[str, bool] = {}  # the latest rating of each rated item: low or not
    for _, item, kind, rating, quantity in rows:
        if weights.for_type(kind) == 0:
            continue  # a type no training counts
        weight = weights.weight(kind, rating, quantity)
        _add_last(added, item, weight)
        if kind == "rating" and rating is not None:
            rated_low[item] = weight <= 0  # ``EventWeights.not_liked`` of a counted type
    for item, low in rated_low.items():
        if low:
            added[item] = -math.inf
    unliked = [item for item, weight in added.items() if weight <= 0]
    return added, unliked


def with_unlearnt(
    reads: Any,
    keys: PersonKeys,
    meta: dict[str, Any],
    context: Sequence[str] | None,
    rules: Rules | None,
) -> tuple[Context | None, Rules | None]:
    """A fully personalized request's context and rules with what the customer did since the
    model was trained (:func:`unlearnt_items`, :func:`add_unlearnt`)."""
    return add_unlearnt(*unlearnt_items(reads, keys, meta), context, rules)


def add_unlearnt(
    added: dict[str, float],
    unliked: list[str],
    context: Sequence[str] | None,
    rules: Rules | None,
) -> tuple[Context | None, Rules | None]:
    """``context`` and ``rules`` with the items of :func:`split_unlearnt`: the newest
    :data:`UNLEARNT_CONTEXT` before the visit's, at the weights their events add (the context
    becomes a mapping of items to weights; an item of the visit that is not among them weighs 1
    per time it occurs, as a view); the unliked and older ones left out while seen items are."""
    items = list(added)
    older, newest = items[:-UNLEARNT_CONTEXT], items[-UNLEARNT_CONTEXT:]
    out: Context | None = list(context) if context else None
    if newest:
        weighted = {item: added[item] for item in newest}
        since = set(newest)
        for item in context or ():
            # the visit's items are the latest; one already among the events since the training
            # is one of those events (the HTTP service's live visit is stored as it comes), so
            # it moves to the end and is not counted again; any other counts once per time
            _add_last(weighted, item, 0.0 if item in since else 1.0)
        out = weighted
    if unliked or older:
        rules = rules or Rules()
        if rules.exclude_seen:  # seen all the same, beyond the context
            rules = without_items(rules, [*unliked, *older])
    return out, rules


def _add_last(weights: dict[str, float], item: str, weight: float) -> None:
    """Add ``weight`` to ``item``'s in ``weights`` and make it the last (the latest met)."""
    weights[item] = weights.pop(item, 0.0) + weight


def preference_rules(rules: Rules | None, prefs: Preferences, mode: str) -> Rules:
    """The request's rules with the preference centre's: dislikes never shown (in every mode:
    "not interested" is an instruction, not profiling), interest categories boosted (unless
    personalization is off)."""
    rules = rules or Rules()
    dislikes = prefs.dislikes
    if dislikes:
        rules = replace(
            without_items(rules, dislikes.items),
            exclude_categories=tuple(
                dict.fromkeys((*rules.exclude_categories, *dislikes.categories))
            ),
        )
    if mode != "off" and prefs.interests.categories:
        boosts = dict(rules.boosts)
        for category in prefs.interests.categories:
            boosts[category] = boosts.get(category, 1.0) * INTEREST_BOOST
        rules = replace(rules, boosts=boosts)
    return rules


def _stated(recs: Sequence[Recommendation], liked: set[str]) -> list[Recommendation]:
    """Reasons that name only items the customer asked more of say so ("more like this")."""
    said = ("because you looked at", "because you asked for more like")
    out = []
    for rec in recs:
        reasons = tuple(
            replace(r, text=r.text.replace(*said, 1))
            if r.kind == "history" and r.items and set(r.items) <= liked
            else r
            for r in rec.reasons
        )
        out.append(replace(rec, reasons=reasons))
    return out


def gated_recommend(
    model: Recommender,
    person: str,
    n: int,
    gate: Personalization,
    prefs: Preferences,
    *,
    context: Context | None = None,
    rules: Rules | None = None,
    explain: bool = True,
) -> Recommended:
    """A customer's recommendations as consent and preferences allow.

    ``full``: the model with the customer's history, the visit (``context``) and the items they
    asked more of; ``light``: the model on the stated interests and the visit only (as for an
    anonymous visit: the stored history is never read); ``off``: the popular items, the same
    for everyone (only the customer's dislikes are left out).
    """
    rules = preference_rules(rules, prefs, gate.mode)
    liked = list(prefs.interests.items)
    if gate.mode == "full":
        extra: Context = [*liked, *(context or ())]
        if isinstance(context, dict):  # weighed events since the training: the stated first
            extra = {item: 1.0 for item in liked}
            for item, weight in context.items():
                _add_last(extra, item, weight)
        recs = model.recommend(person, n, context=extra or None, rules=rules, explain=explain)
    elif gate.mode == "light":
        rules = replace(rules, exclude_items=tuple(dict.fromkeys((*rules.exclude_items, *liked))))
        recs = model.recommend_session([*liked, *(context or ())], n, rules=rules, explain=explain)
        recs = _stated(recs, set(liked) - set(context or ()))
    else:
        rules = replace(rules, exclude_seen=False)
        recs = model.recommend_session([], n, rules=rules, explain=explain)
    return Recommended(recs, gate)


class Recommendations:
    """Recommendations of one engine, from the models saved under its artefacts root.

    Parameters
    ----------
    om : Omotenashi
        The engine: its ``root`` holds the models, its ``identities`` resolve people, its
        ``consent`` and ``preferences`` say how personal an answer may be and its ``access``
        log notes each read. All are required: an object without consent is an error, never
        an answer personalized as if everyone had agreed.
    """

    def __init__(self, om: Omotenashi | Any) -> None:
        self._om = om
        #: The default, session and bought-together models, swapped as one reference.
        self.models = ModelSet()
        self._named: dict[str, tuple[float, Recommender, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return Path(self._om.root)

    # -- models --------------------------------------------------------------------------------
    def reload(self, *, preload: bool = False) -> bool:
        """Load the model set again when a version was saved (or the default changed) since the
        last look; True when it changed. Raises while a version is still being written.

        ``preload`` also loads the session and bought-together models before the swap (a
        server does, so that no request waits for them); otherwise they load on first use.
        """
        stamp = models_stamp(self.root)
        if stamp == self.models.stamp:
            return False
        with self._lock:
            if stamp == self.models.stamp:
                return False
            loaded = ModelSet.load(self.root)
            if loaded.main is None and self.models.main is not None:
                # a served model is never swapped for none: requests would fail until the next
                # version (the models folder moved or emptied under a running server)
                raise NotFound(
                    f"no loadable default model under {self.root}; keeping the one served"
                )
            if preload:
                loaded.session, loaded.together  # noqa: B018 - loads them
            self.models = loaded  # requests see the old set or the new one, never half
        return True

    def model(self, name: str | None = None) -> tuple[Recommender, dict[str, Any]]:
        """The default model (or a named one) and its metadata; ``NotFound`` before training."""
        if name is None:
            self.reload()
            models = self.models
            if models.main is None:
                return load_model(self.root)  # raises NotFound with what to do
            return models.main, models.meta
        marker = self.root / "models" / name
        stamp = marker.stat().st_mtime if marker.exists() else -1.0
        if marker.is_dir():
            stamp = max((p.stat().st_mtime for p in marker.glob("v*")), default=stamp)
        cached = self._named.get(name)
        if cached and cached[0] == stamp:
            return cached[1], cached[2]
        model, meta = load_model(self.root, name)
        self._named[name] = (stamp, model, meta)
        return model, meta

    def model_customers(self, model: str | None = None) -> int:
        """How many customers :meth:`for_all_customers` recommends for (its progress total)."""
        estimator, _ = self.model(model)
        return len(self._batch_customers(estimator))

    def _batch_customers(self, estimator: Any, events: pd.DataFrame | None = None) -> list[str]:
        """The customers of a batch: the customer ids of the store's events that the model
        knows (the model also knows people by merged or anonymous ids, which are not customers
        to write rows for); every id the model knows when the events name no customer. A
        customer known only by items they did not like (all rated low) is known too."""
        if events is None:
            events = self._om.events_frame(columns=["customer_id"])
        in_model = estimator.known_user_ids
        if "customer_id" in events.columns:
            known = pd.unique(events["customer_id"].dropna().astype(str))
            members = set(in_model.tolist())
            customers = [c for c in known if c in members]
            if customers:
                return customers
        return [str(u) for u in in_model]

    # -- people --------------------------------------------------------------------------------
    def person(self, customer_id: str) -> str:
        """The canonical person of ``customer_id``; the id itself when nobody is known by it
        (the model then answers a cold start)."""
        customer_id = clean_id(customer_id, "customer_id")
        return self._om.identities.person(customer_id) or customer_id

    def _person_keys(self, customer_id: str) -> PersonKeys:
        """The person of ``customer_id`` with all their ids (``Identities.person_keys``); the
        id alone when nobody is known by it (a cold start, whose consent may still be stored
        under that id)."""
        customer_id = clean_id(customer_id, "customer_id")
        found = self._om.identities.person_keys(customer_id)
        return found or PersonKeys(customer_id, (customer_id,), ())

    def for_customer(
        self,
        customer_id: str,
        n: int = 10,
        *,
        rules: Rules | None = None,
        explain: bool = True,
        context: Sequence[str] | None = None,
        model: str | None = None,
    ) -> Recommended:
        """Recommendations for one customer (any of their ids) from the trained model, as the
        customer's consent and preferences allow (:func:`gated_recommend`): without consent to
        personalization, or with personalization off, the popular items and
        ``personalized=False`` with the reason.

        A customer the model has never seen gets recommendations from ``context`` when given,
        else the popular items (cold start). Raises ``NotFound`` when no model was trained.
        """
        estimator, meta = self.model(model)
        self._om.access.record("read.recommendations", clean_id(customer_id, "customer_id"))
        # one resolution serves the model, the events since its training and the consent gate
        keys = self._person_keys(customer_id)
        person = keys.customer_id
        gate, prefs = self._om.consent.gate(keys)
        if gate.mode == "full":  # ("light" and "off" never read the stored history)
            context, rules = self._with_unlearnt(keys, meta, context, rules)
        return gated_recommend(
            estimator, person, n, gate, prefs, context=context, rules=rules, explain=explain
        )

    def _with_unlearnt(
        self,
        keys: PersonKeys,
        meta: dict[str, Any],
        context: Sequence[str] | None,
        rules: Rules | None,
    ) -> tuple[Context | None, Rules | None]:
        store = self._store()
        if store is None or meta.get("events_seq") is None:
            return (list(context) if context else None), rules
        return with_unlearnt(store.reads, keys, meta, context, rules)

    def _store(self) -> Any:
        """The engine's store; None for an object with the engine's frames only."""
        try:
            return self._om.store
        except AttributeError:
            return None

    def _unlearnt_customers(self, meta: dict[str, Any]) -> dict[str, list[PersonEvent]]:
        """The people with events stored since the model was trained, each with those events
        as ``person_items_after`` gives them (``(seq, item_id, type, rating, quantity)``, the newest
        :data:`UNLEARNT_LIMIT`), read in one pass for the whole batch: their rows are redone
        one by one, with those events."""
        store = self._store()
        seq = meta.get("events_seq")
        if store is None or seq is None:
            return {}
        by_id: dict[str, list[PersonEvent]] = {}
        cursor = int(seq)
        while rows := store.events.after(cursor, _UNLEARNT_PAGE):
            for s, c, a, item, kind, rating, quantity in rows:
                if item and (c or a):  # an event with a customer id is theirs (as the reads)
                    by_id.setdefault(c or a, []).append((s, item, kind, rating, quantity))
            cursor = rows[-1][0]
        people: dict[str, list[PersonEvent]] = {}
        for any_id, events in by_id.items():
            person = self._om.identities.person(any_id)
            if person is not None:
                people.setdefault(person, []).extend(events)
        return {p: sorted(events)[-UNLEARNT_LIMIT:] for p, events in people.items()}

    def for_session(
        self,
        items: Sequence[str],
        n: int = 10,
        *,
        rules: Rules | None = None,
        explain: bool = True,
    ) -> list[Recommendation]:
        """Recommendations for an anonymous visit from its clicks so far (oldest first).

        Uses the session model when one was trained, else the default model.
        """
        try:
            estimator, _ = self.model(SESSION_MODEL)
        except NotFound:
            estimator, _ = self.model()
        return estimator.recommend_session(
            [clean_id(i, "item_id") for i in items], n, rules=rules, explain=explain
        )

    def similar(
        self,
        item_id: str,
        n: int = 10,
        *,
        rules: Rules | None = None,
        model: str | None = None,
    ) -> list[Recommendation]:
        """Items similar to ``item_id`` according to the default (or named) model."""
        estimator, _ = self.model(model)
        return estimator.similar_items(clean_id(item_id, "item_id"), n, rules=rules)

    def for_all_customers(
        self,
        n: int = 20,
        *,
        rules: Rules | None = None,
        model: str | None = None,
        progress: Callable[[int], None] | None = None,
        total: Callable[[int], None] | None = None,
        events: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Top-``n`` for every known customer, already-seen items excluded unless rules say
        otherwise.

        ``total`` is called once with the number of customers before the first is scored,
        ``progress`` with the number scored after each batch: they add up to that total.
        ``events``: the store's events frame, when the caller has read it already.

        Returns
        -------
        pandas.DataFrame
            Columns ``customer_id``, ``rank`` (1 = best), ``item_id``, ``score``; customers with
            fewer allowed items have fewer rows.
        """
        estimator, meta = self.model(model)
        customers = self._batch_customers(estimator, events)
        fresh = self._unlearnt_customers(meta)
        # customers new since the training: answered from their events, one by one, below
        known = set(customers) | set(estimator.known_user_ids.tolist())
        newcomers = sorted(set(fresh) - known)
        if total is not None:
            total(len(customers) + len(newcomers))
        users, ids, scores = estimator.recommend_batch(customers, n, rules=rules, progress=progress)
        width = ids.shape[1]
        frame = pd.DataFrame(
            {
                "customer_id": np.repeat(users, width),
                "rank": np.tile(np.arange(1, width + 1), len(users)),
                "item_id": ids.ravel(),
                "score": scores.ravel(),
            }
        )
        frame = frame[frame["item_id"] != ""].reset_index(drop=True)
        out = self._redo_batch(frame, estimator, meta, [*customers, *newcomers], fresh, n, rules)
        if progress is not None and newcomers:
            progress(len(newcomers))
        return out

    def _redo_batch(
        self,
        frame: pd.DataFrame,
        estimator: Recommender,
        meta: dict[str, Any],
        customers: Sequence[str],
        fresh: dict[str, list[PersonEvent]],
        n: int,
        rules: Rules | None,
    ) -> pd.DataFrame:
        """Redo, one by one, the rows of the customers whose consent or preferences change
        their answer, and of those with events since the model was trained (``fresh``; usually
        few, and the newcomers among them have no batch rows yet): the batch scored everyone
        from the history the model learnt."""
        consent, centre = self._om.consent, self._om.preferences
        special = (consent.not_fully_personalized() | set(centre.all()) | set(fresh)) & set(
            customers
        )
        if not special:
            return frame
        redone = []
        for customer in sorted(special):
            keys = self._person_keys(customer)
            gate, prefs = consent.gate(keys)
            context, mine = None, rules
            if gate.mode == "full" and customer in fresh:
                context, mine = add_unlearnt(*split_unlearnt(fresh[customer], meta), None, rules)
            recs = gated_recommend(
                estimator, customer, n, gate, prefs, context=context, rules=mine, explain=False
            )
            redone.extend((customer, r.rank, r.item_id, r.score) for r in recs)
        kept = frame[~frame["customer_id"].isin(special)]
        extra = pd.DataFrame(redone, columns=["customer_id", "rank", "item_id", "score"])
        order = {c: i for i, c in enumerate(customers)}
        out = pd.concat([kept, extra], ignore_index=True)
        out = out.assign(_order=out["customer_id"].map(order)).sort_values(
            ["_order", "rank"], kind="stable"
        )
        return out.drop(columns="_order").reset_index(drop=True)

    def titles(self) -> dict[str, str]:
        """Item titles of the catalogue, for showing recommendations to people."""
        items = self._om.items_frame()
        if items is None or not len(items) or "title" not in items:
            return {}
        return {str(k): v for k, v in zip(items["item_id"], items["title"], strict=False) if v}

    def demo(self, customer_id: str, n: int = 5, *, model: str | None = None) -> dict[str, Any]:
        """What ``omotenashi demo`` shows: train on the store, then recommendations with reasons.

        ``model`` None lets ``train`` choose on the store's data (slower: it compares models);
        a name trains that model directly. Returns a JSON-ready dict with the model trained, the
        customer's recommendations (with reasons and titles) and similar items for their first
        recommendation.
        """
        info = train(self._om, model)
        titles = self.titles()

        def rows(recs: list[Recommendation]) -> list[dict[str, Any]]:
            return [
                {
                    "rank": r.rank,
                    "item_id": r.item_id,
                    "title": titles.get(r.item_id, r.item_id),
                    "score": r.score,
                    "reasons": [reason.text for reason in r.reasons],
                }
                for r in recs
            ]

        recs = self.for_customer(customer_id, n)
        similar = self.similar(recs[0].item_id, n) if recs else []
        return {
            "model": info["model"],
            "version": info["version"],
            "customer_id": customer_id,
            "recommendations": rows(recs),
            "similar_to_first": rows(similar),
        }


# -- functions for notebooks and scripts (the same use cases, given an engine) ----------------
def _of(om: Any) -> Recommendations:
    """The engine's recommendation service (its model cache); a fresh one for any other object
    with the engine's parts (``events_frame``, ``items_frame``, ``root``, ``identities``,
    ``consent``, ``preferences``, ``access``)."""
    found = getattr(om, "recommendations", None)
    return found if isinstance(found, Recommendations) else Recommendations(om)


def recommend_for_customer(om: Any, customer_id: str, n: int = 10, **options: Any):
    """``om.recommendations.for_customer`` (see :meth:`Recommendations.for_customer`)."""
    return _of(om).for_customer(customer_id, n, **options)


def recommend_for_session(om: Any, items: Sequence[str], n: int = 10, **options: Any):
    """``om.recommendations.for_session`` (see :meth:`Recommendations.for_session`)."""
    return _of(om).for_session(items, n, **options)


def similar_items(om: Any, item_id: str, n: int = 10, **options: Any):
    """``om.recommendations.similar`` (see :meth:`Recommendations.similar`)."""
    return _of(om).similar(item_id, n, **options)


def recommend_all_customers(om: Any, n: int = 20, **options: Any) -> pd.DataFrame:
    """``om.recommendations.for_all_customers`` (see :meth:`Recommendations.for_all_customers`)."""
    return _of(om).for_all_customers(n, **options)


def demo_recommendations(om: Any, customer_id: str, n: int = 5, **options: Any):
    """``om.recommendations.demo`` (see :meth:`Recommendations.demo`)."""
    return _of(om).demo(customer_id, n, **options)


# -- the served answers (HTTP): JSON bytes, cached per person, live visits as context ----------
@dataclass(frozen=True)
class RuleSpec:
    """Request filters in a hashable form (part of the cache key)."""

    include_categories: tuple[str, ...] | None = None
    exclude_categories: tuple[str, ...] = ()
    exclude_items: tuple[str, ...] = ()
    diversity: float = 0.0
    exclude_seen: bool = True

    def key(self) -> tuple:
        """The filters as a plain tuple (of tuples of ids, a number, a flag): what the answer
        cache's keys hold (:func:`_answer_key`)."""
        return (
            self.include_categories,
            self.exclude_categories,
            self.exclude_items,
            self.diversity,
            self.exclude_seen,
        )

    def rules(self) -> Rules:
        return Rules(
            exclude_seen=self.exclude_seen,
            include_categories=self.include_categories,
            exclude_categories=self.exclude_categories,
            exclude_items=self.exclude_items,
            diversity=self.diversity,
        )


def _answer_key(customer_id: str, n: int, explain: bool, spec: RuleSpec) -> tuple:
    """The answer cache's key of a customer's answer: plain tuples of strings and numbers only.

    The garbage collector stops tracking such a tuple once it has seen it, so a full pass never
    walks the cache's keys one by one. With the ``RuleSpec`` itself in the key (an object it
    tracks) every answer no cache had held added two tracked objects until the cache was full
    (200,000 answers), and the full passes, about once a second under the load test's answers
    of varied ``n``, grew from 3 to 13 ms within 10 s: the server's p99 rose with them.
    """
    return ("customer", customer_id, n, explain, spec.key())


def _dumps(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY)


def _rows(
    recs: Sequence[Recommendation], explain: bool, note: str | None = None
) -> list[dict[str, Any]]:
    rows = []
    for r in recs:
        row: dict[str, Any] = {"rank": r.rank, "item_id": r.item_id, "score": round(r.score, 6)}
        if explain:
            row["reasons"] = [
                {"kind": x.kind, "text": x.text, "items": list(x.items), "weight": x.weight}
                for x in r.reasons
            ]
            row["explained"] = r.explained
            row["why"] = plain_why(r, note)
        rows.append(row)
    return rows


def _personal_fields(recs: Sequence[Recommendation]) -> dict[str, Any]:
    """``personalized`` and ``personalization`` (mode, reason) of an answer."""
    if isinstance(recs, Recommended):
        return {
            "personalized": recs.personalized,
            "personalization": {"mode": recs.mode, "reason": recs.reason},
        }
    return {"personalized": True, "personalization": {"mode": "full", "reason": None}}


def _customer_body(
    models: ModelSet,
    customer_id: str,
    context: Sequence[str],
    recs: Sequence[Recommendation],
    explain: bool,
) -> bytes:
    """A customer's answer (``RecommendationsOut``) as JSON bytes: what a request computes and
    what warming precomputes are the same bytes."""
    note = recs.reason if isinstance(recs, Recommended) and recs.mode == "off" else None
    return _dumps(
        {
            "model": models.label,
            "customer_id": customer_id,
            "context": list(context),
            **_personal_fields(recs),
            "recommendations": _rows(recs, explain, note),
        }
    )


def _main_model(ws: Workspace) -> ModelSet:
    models = ws.models
    if models.main is None:
        raise ModelNotReady(
            f"no recommendation model is trained for workspace {ws.name!r} yet; training runs "
            "in the background once events arrive (or run `omotenashi train`)"
        )
    return models


def cached_customer(ws: Workspace, customer_id: str, n: int, spec: RuleSpec, explain: bool):
    """The cached answer for a customer, or None (cheap: no store access).

    Answers are cached under the canonical person, so this finds those asked by the person's
    own id; other ids of the person go through :func:`customer_recommendations`.
    """
    customer_id = clean_id(customer_id, "customer_id")
    if ws.sessions.items("c:" + customer_id):
        return None
    hit = ws.cache.get(_answer_key(customer_id, n, explain, spec))
    if hit is not None:
        ws.om.access.record("read.recommendations", customer_id)
    return hit


def customer_recommendations(
    ws: Workspace,
    customer_id: str,
    n: int = DEFAULT_N,
    spec: RuleSpec = RuleSpec(),
    *,
    explain: bool = False,
) -> bytes:
    """Recommendations for a known customer (any of their ids), as JSON bytes
    (``RecommendationsOut``); ``customer_id`` in the answer is the canonical person.

    Raises ``NotFound`` for an id the workspace's store does not know and ``ModelNotReady``
    before the first training.
    """
    customer_id = clean_id(customer_id, "customer_id")
    ws.om.access.record("read.recommendations", customer_id)
    key = _answer_key(customer_id, n, explain, spec)
    stamp = ws.cache.stamp(customer_id)
    context = ws.sessions.items("c:" + customer_id)
    if not context:
        hit = ws.cache.get(key)
        if hit is not None:
            return hit
    models = _main_model(ws)
    known = ws.cache.peek(("person", customer_id))  # (keys, gate, prefs), cached below
    if known is not None:
        keys, gate, prefs = known
    else:
        keys = ws.om.identities.require_person_keys(customer_id)  # NotFound for unknown ids
    person = keys.customer_id
    if person != customer_id:  # a merged-away id or a linked anonymous id: the person's answer
        ws.remember_alias(customer_id, person)
        key = _answer_key(person, n, explain, spec)
        stamp = ws.cache.stamp(person)
        context = context or ws.sessions.items("c:" + person)
        if not context:
            hit = ws.cache.get(key)
            if hit is not None:
                return hit
    if known is None:
        gate, prefs = ws.om.consent.gate(keys)  # the person resolved above, not looked up again
        if person == customer_id:
            # cached as the person's answers are, under the stamp taken before the reads: an
            # event, a consent or identity change of the person drops it with their answers
            ws.cache.put(("person", person), person, (keys, gate, prefs), stamp)
    rules = spec.rules()
    asked = context  # the live visit (an answer with one is not cached: visits expire)
    if gate.mode == "off":
        asked = context = []  # nothing of the customer, the live visit included
    else:
        if rules.exclude_seen:
            # items the live visit returned or rated low: seen, as the trained ones are
            unliked = ws.sessions.unliked("c:" + customer_id)
            if person != customer_id:
                unliked += ws.sessions.unliked("c:" + person)
            rules = without_items(rules, unliked)
        seq = models.meta.get("events_seq")
        if gate.mode == "full" and ws.unlearnt.may_have(
            seq, (keys.customer_id, *keys.customer_ids, *keys.anonymous_ids)
        ):
            # what they did since the model was trained (a store read, for these people only)
            found, rules = with_unlearnt(ws.om.store.reads, keys, models.meta, context, rules)
            context = found or []
    recs = gated_recommend(
        models.main,
        person,
        n,
        gate,
        prefs,
        context=context or None,
        rules=rules,
        explain=explain,
    )
    body = _customer_body(models, person, asked, recs, explain)
    if not asked and models is ws.models:
        ws.cache.put(key, person, body, stamp)
    return body


def session_recommendations(
    ws: Workspace,
    items: Sequence[str],
    anonymous_id: str | None,
    n: int,
    spec: RuleSpec,
    *,
    explain: bool = False,
) -> bytes:
    """Recommendations for an anonymous visit: its live items (by ``anonymous_id``) + ``items``."""
    models = _main_model(ws)
    live = ws.sessions.items("a:" + anonymous_id) if anonymous_id else []
    visit = [*live, *items]
    model = models.session or models.main
    # an item the visit returned or rated low is left out even where seen items are kept
    # (visitors come back to what they consider, not to what they turned down)
    unliked = ws.sessions.unliked("a:" + anonymous_id) if anonymous_id else []
    rules = without_items(spec.rules(), unliked)
    recs = model.recommend_session(visit, n, rules=rules, explain=explain)
    label = f"{model.name}" if model is models.session else models.label
    return _dumps({"model": label, "context": visit, "recommendations": _rows(recs, explain)})


def item_answer(ws: Workspace, kind: str, item_id: str, n: int, *, explain: bool = False) -> bytes:
    """Similar items (``kind='similar'``) or bought-together items, as JSON bytes."""
    item_id = clean_id(item_id, "item_id")
    key = (kind, "item:" + item_id, n, explain)
    hit = ws.cache.get(key)
    if hit is not None:
        return hit
    stamp = ws.cache.stamp("item:" + item_id)
    models = _main_model(ws)
    if kind == "similar":
        model = models.main
    else:
        model = models.together
        if model is None:
            raise NotFound(
                "no bought-together model: the workspace has no purchases with an order_id yet"
            )
    recs = model.similar_items(item_id, n)
    label = models.label if kind == "similar" else model.name
    body = _dumps({"model": label, "item_id": item_id, "recommendations": _rows(recs, explain)})
    ws.cache.put(key, "item:" + item_id, body, stamp)
    return body


def warm(
    ws: Workspace,
    stop: threading.Event,
    limit: int | None = None,
    *,
    budget_s: float | None = None,
    traffic: Traffic | None = None,
) -> int:
    """Precompute the default answer (n=10, no filters) for the model's customers.

    Runs at start-up before the server listens (for up to ``budget_s`` seconds; what is left
    stays pending) and in the maintenance thread after a model swap, where it computes
    answers only while no request is being served (``traffic``: it would slow them down) and
    otherwise leaves the rest pending for a later round (the maintenance thread must go on to
    its other work, such as swapping in new models); stops early when the model changes again
    or the server stops. Returns how many answers were computed.
    """
    models = ws.models
    if models.main is None:
        return 0
    limit = ws.settings.warm_customers if limit is None else limit
    deadline = None if budget_s is None else time.monotonic() + budget_s
    done = 0
    spec = RuleSpec()
    identities = ws.om.identities
    # answers shaped by consent or preferences are computed on request, never from the history
    special = ws.om.consent.not_fully_personalized() | set(ws.om.preferences.all())
    seq = models.meta.get("events_seq")
    for customer_id in models.main.user_ids_[:limit].tolist():
        if stop.is_set() or ws.models is not models:
            break
        if deadline is not None and time.monotonic() > deadline:
            ws.warm_pending = True  # the maintenance thread goes on from here
            break
        if identities.is_merged_away(customer_id) or customer_id in special:
            continue  # answers are cached by the person only; special ones on request
        if ws.unlearnt.may_have(seq, (customer_id,)):
            continue  # with events since the training: on request, which reads them
        if traffic is not None and traffic.busy():
            ws.warm_pending = True  # goes on in a later maintenance round, when it is quiet
            break
        key = _answer_key(customer_id, DEFAULT_N, False, spec)
        if ws.cache.get(key) is not None:
            continue
        stamp = ws.cache.stamp(customer_id)
        recs = models.main.recommend(customer_id, DEFAULT_N, rules=spec.rules(), explain=False)
        body = _customer_body(models, customer_id, [], recs, False)
        ws.cache.put(key, customer_id, body, stamp)
        done += 1
    return done


__all__ = [
    "DEFAULT_N",
    "Recommendations",
    "Recommended",
    "RuleSpec",
    "cached_customer",
    "customer_recommendations",
    "demo_recommendations",
    "gated_recommend",
    "item_answer",
    "make_rules",
    "preference_rules",
    "recommend_all_customers",
    "recommend_for_customer",
    "recommend_for_session",
    "session_recommendations",
    "similar_items",
    "warm",
]
