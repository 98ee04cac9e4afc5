"""Compose use cases: a message from parts for one customer (emphasis and tone chosen through a
logged decision), the best bundles of a catalogue for them, a trip plan from their history.

The style choice is a decision point with logged propensities (``message_style`` for written
messages, ``call_style`` for call-centre talking points) kept in the store's decision log, so
any new choice policy can be judged offline (:meth:`Compose.message_ope`). Starting rules choose
until the point's learning policy has learnt from ``MIN_REWARDS`` outcomes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from omotenashi.compose import (
    CHANNELS,
    VARIANTS,
    BundleCatalog,
    Message,
    MessageWorld,
    Taste,
    TravelCatalog,
    best_bundles,
    compose_text,
    parse_bundle_catalog,
    parse_travel_catalog,
    plan_trip,
    read_bundle_catalog,
    read_travel_catalog,
    rule_distribution,
    rule_style,
    travel_taste,
)
from omotenashi.decisions import (
    DecisionEngine,
    DecisionPoint,
    DecisionRecord,
    InMemoryDecisionLog,
    action_features,
    context_features,
    decisions_to_bandit_log,
    make_policy,
    policy_action_dist,
)
from omotenashi.errors import DataError, NotFound, OmotenashiError

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi

#: Bundled synthetic catalogues, for ``--catalog sample:NAME``.
SAMPLES = {"cafe": "cafe_set.json", "gift": "gift_box.json", "travel": "travel_kansai.json"}
#: Outcomes the learning policy needs before it takes over from the starting rules.
MIN_REWARDS = 200
#: Share of choices the starting rules leave to the other variants (so every one is tried).
EXPLORATION = 0.2
STYLE_POINTS = {"email": "message_style", "sms": "message_style", "call": "call_style"}


def style_point(name: str) -> DecisionPoint:
    """The decision point of a message style: one variant per emphasis and tone."""
    return DecisionPoint.parse(
        {
            "name": name,
            "variants": [
                {"id": v, "features": {"emphasis": v.split("/")[0], "tone": v.split("/")[1]}}
                for v in VARIANTS
            ],
            "reward": {"kind": "binary", "min": 0, "max": 1, "ttl_seconds": 30 * 86400},
            "policy": {"kind": "epsilon-greedy", "params": {"epsilon": 0.1}},
        }
    )


def sample_catalog(name: str) -> Path:
    """Path of a bundled sample catalogue (``cafe``, ``gift``, ``travel``)."""
    if name not in SAMPLES:
        raise DataError(
            f"--catalog: sample:{name} is unknown; use "
            + ", ".join(f"sample:{s}" for s in SAMPLES),
            field="catalog",
        )
    return Path(str(resources.files("omotenashi.data") / SAMPLES[name]))


def _catalog_path(spec: str | Path) -> Path:
    text = str(spec)
    return (
        sample_catalog(text.removeprefix("sample:")) if text.startswith("sample:") else Path(text)
    )


def load_bundle_catalog(spec: str | Path | Mapping[str, Any] | BundleCatalog) -> BundleCatalog:
    """A bundle catalogue from a file, ``sample:NAME``, a dict or an already parsed one."""
    if isinstance(spec, BundleCatalog):
        return spec
    if isinstance(spec, Mapping):
        return parse_bundle_catalog(spec, "catalog")
    return read_bundle_catalog(_catalog_path(spec))


def load_travel_catalog(spec: str | Path | Mapping[str, Any] | TravelCatalog) -> TravelCatalog:
    """A travel catalogue from a file, ``sample:NAME``, a dict or an already parsed one."""
    if isinstance(spec, TravelCatalog):
        return spec
    if isinstance(spec, Mapping):
        return parse_travel_catalog(spec, "catalog")
    return read_travel_catalog(_catalog_path(spec))


class Compose:
    """Messages, bundles and plans for one customer (``om.compose``)."""

    def __init__(self, om: Omotenashi) -> None:
        self._om = om
        self._engine: DecisionEngine | None = None
        self._reactions: dict[str, dict[str, dict[str, list[float]]]] = {}

    # ------------------------------------------------------------------ customer signals
    def _person(self, customer_id: str) -> str:
        return self._om.identities.require_person(customer_id)

    def _personalised(self, person: str) -> bool:
        if not self._om.consent.allows(person, "personalization"):
            return False
        return self._om.preferences.get(person).level != "off"

    def taste(self, customer_id: str, *, model_n: int = 100) -> Taste:
        """What the customer's history says: items bought, category shares, segment and the
        recommendation model's ranks (when a model is trained)."""
        person = self._person(customer_id)
        if not self._personalised(person):
            return Taste()
        profile = self._om.profile(person)
        keys = self._om.store.identities.person_keys(person)
        bought: dict[str, int] = {}
        if keys is not None:
            for row in self._om.store.reads.person_timeline(keys, 5000, None):
                if row.get("type") == "purchase" and row.get("item_id"):
                    bought[row["item_id"]] = bought.get(row["item_id"], 0) + 1
        ranks: dict[str, int] = {}
        try:
            recs = self._om.recommendations.for_customer(person, model_n, explain=False)
            ranks = {r.item_id: r.rank for r in recs}
        except (NotFound, OmotenashiError):
            pass
        segment = profile.scores.get("segment")
        return Taste(
            bought=bought,
            categories={c.category: c.share for c in profile.top_categories},
            segment=str(segment) if segment else None,
            model_ranks=ranks,
            model_size=model_n if ranks else 0,
        )

    # ------------------------------------------------------------------------- bundles
    def bundle(
        self,
        customer_id: str,
        catalog: str | Path | Mapping[str, Any] | BundleCatalog,
        *,
        budget: float | None = None,
        top: int = 1,
    ) -> dict[str, Any]:
        """The ``top`` best distinct bundles of ``catalog`` for the customer (JSON-ready).

        Raises ``Infeasible`` (a ``DataError``) naming the constraints that cannot hold."""
        cat = load_bundle_catalog(catalog)
        taste = self.taste(customer_id)
        started = time.perf_counter()
        bundles = best_bundles(cat, taste, budget=budget, top=top)
        return {
            "customer_id": customer_id,
            "catalog": cat.name,
            "currency": cat.currency,
            "budget": budget if budget is not None else cat.budget,
            "solve_ms": round(1000 * (time.perf_counter() - started), 2),
            "bundles": [b.to_dict() for b in bundles],
        }

    # ---------------------------------------------------------------------------- plans
    def plan(
        self,
        customer_id: str,
        catalog: str | Path | Mapping[str, Any] | TravelCatalog,
        *,
        start: dt.date | str,
        days: int,
        budget: float,
        origin: str | None = None,
        end: str | None = None,
        pace: str | None = None,
    ) -> dict[str, Any]:
        """A day-by-day trip for the customer from ``catalog`` (JSON-ready)."""
        if isinstance(start, str):
            try:
                start = dt.date.fromisoformat(start)
            except ValueError:
                raise DataError(
                    f"start: {start!r} is not a date (YYYY-MM-DD)", field="start"
                ) from None
        cat = load_travel_catalog(catalog)
        taste = self.taste(customer_id)
        liked = travel_taste(cat, taste, pace=pace)
        plan = plan_trip(cat, liked, start=start, days=days, budget=budget, origin=origin, end=end)
        return {
            "customer_id": customer_id,
            "catalog": cat.name,
            "currency": cat.currency,
            "taste": {
                "categories": dict(liked.categories),
                "price_level": liked.level,
                "hours_per_day": liked.hours,
                "from": liked.source if pace is None else f"{liked.source}; pace given",
            },
            **plan.to_dict(),
        }

    # ------------------------------------------------------------------------- messages
    @property
    def engine(self) -> DecisionEngine:
        """The style decision points over the store's decision log (warm-started from it)."""
        if self._engine is None:
            engine = DecisionEngine(self._om.store.decisions)
            for name in dict.fromkeys(STYLE_POINTS.values()):
                engine.register(style_point(name))
                engine.warm_start(name)
            self._engine = engine
        return self._engine

    def _reactions_of(self, point: str, person: str) -> dict[str, float]:
        if point not in self._reactions:
            table: dict[str, dict[str, list[float]]] = {}
            frame = self.engine.log.to_frame(point)
            if not frame.empty:
                done = frame[frame["reward"].notna()]
                for row in done.itertuples(index=False):
                    cell = table.setdefault(row.customer_id, {}).setdefault(row.variant, [0, 0])
                    cell[0] += float(row.reward)
                    cell[1] += 1
            self._reactions[point] = table
        return {v: s / n for v, (s, n) in self._reactions[point].get(person, {}).items() if n}

    def message(
        self,
        customer_id: str,
        topic: str,
        *,
        channel: str = "email",
        reason: str | None = None,
        offer: str | None = None,
        context: Mapping[str, Any] | None = None,
        seed: int | None = None,
    ) -> Message:
        """Compose a message (or, for ``channel='call'``, talking points) about ``topic``.

        The emphasis and tone come from the style decision point (logged with its propensity;
        reward it with :meth:`reward` and the decision id). ``reason`` is the plain-words
        reason for writing (the outreach queue passes its own); ``offer`` an optional offer.
        """
        if channel not in CHANNELS:
            raise DataError(f"channel: {channel!r}; use {', '.join(CHANNELS)}", field="channel")
        if not topic or not topic.strip():
            raise DataError("topic: give what the message is about", field="topic")
        person = self._person(customer_id)
        point = STYLE_POINTS[channel]
        personal = self._personalised(person)
        profile_obj = self._om.profile(person)
        features = profile_obj.features() if personal else {}
        ctx = {**dict(context or {}), "channel": channel, "topic": topic}
        engine = self.engine
        policy = engine.policy(point)
        learnt = policy.n_updates_
        if personal and learnt >= MIN_REWARDS:
            made = engine.decide(point, person, features, ctx)
            variant, propensity, decision_id, why = (
                made.variant,
                made.propensity,
                made.decision_id,
                made.why,
            )
            emphasis, tone = variant.split("/")
            style_reasons = [f"chosen by the learning policy: {why}"]
            policy_kind = policy.kind
        else:
            if personal:
                r_emph, r_tone, style_reasons = rule_style(
                    features, self._reactions_of(point, person)
                )
            else:
                r_emph, r_tone = "value", "formal"
                style_reasons = ["personalization is off for you: the neutral style"]
            dist = rule_distribution(f"{r_emph}/{r_tone}", VARIANTS, EXPLORATION)
            rng = np.random.default_rng(seed)
            names = list(dist)
            j = int(rng.choice(len(names), p=[dist[n] for n in names]))
            variant, propensity = names[j], dist[names[j]]
            decision_id = uuid.uuid4().hex
            engine.log.append(
                DecisionRecord(
                    decision_id=decision_id,
                    point=point,
                    customer_id=person,
                    created_at=time.time(),
                    variant=variant,
                    propensity=propensity,
                    probabilities=dist,
                    profile=features,
                    context=ctx,
                    policy="rules",
                )
            )
            emphasis, tone = variant.split("/")
            if variant != f"{r_emph}/{r_tone}":
                style_reasons = [
                    f"a trial of another style ({propensity:.0%} chance) so the choice keeps "
                    f"learning; the rules would have chosen '{r_emph}/{r_tone}' because "
                    + "; ".join(style_reasons)
                ]
            style_reasons.append(
                f"starting rules (the learning policy takes over after {MIN_REWARDS} outcomes; "
                f"it has {learnt})"
            )
            policy_kind = "rules"
        attrs = profile_obj.attributes if personal else {}
        name = attrs.get("first_name") or attrs.get("name")
        if reason is None:
            days = features.get("recency_days", -1)
            reason = (
                f"it has been {days} day{'s' if days != 1 else ''} since your last order"
                if isinstance(days, int) and days > 0
                else f"we have news about {topic}"
            )
        text, parts = compose_text(
            customer_id=person,
            name=str(name) if name else None,
            topic=topic,
            channel=channel,
            emphasis=emphasis,
            tone=tone,
            reason=reason,
            offer=offer,
            style_reasons=style_reasons,
        )
        return Message(
            customer_id=customer_id,
            topic=topic,
            channel=channel,
            emphasis=emphasis,
            tone=tone,
            text=text,
            parts=parts,
            reasons=style_reasons,
            decision={
                "decision_id": decision_id,
                "point": point,
                "variant": variant,
                "propensity": propensity,
                "policy": policy_kind,
            },
        )

    def reward(self, decision_id: str, value: float) -> dict[str, Any]:
        """The outcome of a composed message (1 = the customer replied / converted)."""
        record = self.engine.log.get(decision_id)
        self.engine.reward(decision_id, value)
        table = self._reactions.get(record.point)
        if table is not None:
            cell = table.setdefault(record.customer_id, {}).setdefault(record.variant, [0, 0])
            cell[0] += float(value)
            cell[1] += 1
        return {"decision_id": decision_id, "variant": record.variant, "reward": value}

    # -------------------------------------------------------------- judge a policy offline
    @staticmethod
    def message_ope(
        rounds: int = 6000,
        *,
        seed: int = 0,
        exploration: float = EXPLORATION,
        estimators: tuple[str, ...] = ("ipw", "snipw"),
        n_bootstrap: int = 200,
    ) -> dict[str, Any]:
        """Simulate the starting rules' logs on an audience with known reply chances
        (``MessageWorld``), then estimate off-policy the value of (a) the rules themselves,
        (b) one fixed style for everyone and (c) a policy learnt from the first half of the
        logs, on the second half; each with its true value in the simulated world. Model-based
        estimators (``dr``, ``dm`` ...) fit one reward model (slower: seconds)."""
        from omotenashi.ope import RewardModel, evaluate_policy

        if rounds < 100:
            raise DataError("rounds: simulate at least 100", field="rounds")
        world = MessageWorld(seed)
        people = world.people(rounds)
        point = style_point("message_style")
        log = InMemoryDecisionLog()
        rng = np.random.default_rng(seed + 1)
        for i, person in enumerate(people):
            emphasis, tone, _ = rule_style(person)
            dist = rule_distribution(f"{emphasis}/{tone}", VARIANTS, exploration)
            names = list(dist)
            j = int(rng.choice(len(names), p=[dist[n] for n in names]))
            rec = DecisionRecord(
                decision_id=f"sim-{i}",
                point=point.name,
                customer_id=f"p{i}",
                created_at=0.0,
                variant=names[j],
                propensity=dist[names[j]],
                probabilities=dist,
                profile=person,
                context={"channel": "email"},
                policy="rules",
            )
            log.append(rec)
            hit = float(rng.random() < world.reply_chance(person, names[j]))
            log.add_reward(rec.decision_id, hit, 0.0)
        frame = log.to_frame(point.name).reset_index(drop=True)
        half = rounds // 2
        train, test = frame.iloc[:half], frame.iloc[half:].reset_index(drop=True)
        bandit = decisions_to_bandit_log(test, point)
        test_people = people[half:]
        truth = np.array([[world.reply_chance(p, v) for v in VARIANTS] for p in test_people])

        learner = make_policy("epsilon-greedy", {"epsilon": 0.05}, random_state=seed)
        by_id = {v.id: v for v in point.variants}
        acts = [action_features(v, by_id[v].features) for v in VARIANTS]
        for row in train.itertuples(index=False):
            learner.update(
                context_features(_as_dict(row.profile), _as_dict(row.context)),
                acts,
                VARIANTS.index(row.variant),
                float(row.reward),
                float(row.propensity),
            )
        rules = np.array(
            [
                [d[v] for v in VARIANTS]
                for d in (
                    rule_distribution("/".join(rule_style(p)[:2]), VARIANTS, exploration)
                    for p in test_people
                )
            ]
        )
        fixed = np.zeros_like(rules)
        fixed[:, VARIANTS.index("lasting/warm")] = 1.0
        targets = {
            "starting rules (the logging policy)": rules,
            "one style for all: lasting/warm": fixed,
            "epsilon-greedy learnt from the first half": policy_action_dist(learner, bandit, point),
        }
        fitted = None
        if any(e in ("dm", "dr", "switch-dr", "sndr") for e in estimators):
            fitted = RewardModel(random_state=seed).fit_predict(bandit)  # once for all targets
        out = []
        for name, dist in targets.items():
            estimates = evaluate_policy(
                bandit,
                dist,
                fitted,
                estimators=list(estimators),
                n_bootstrap=n_bootstrap,
                random_state=seed,
            )
            out.append(
                {
                    "policy": name,
                    "true_value": round(float((dist * truth).sum(axis=1).mean()), 5),
                    "estimates": [e.to_dict() for e in estimates],
                }
            )
        return {
            "rounds": rounds,
            "evaluated_on": len(test),
            "logged_reply_rate": round(float(test["reward"].mean()), 5),
            "policies": out,
        }


def _as_dict(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def compose_message(om: Omotenashi, customer_id: str, topic: str, **options: Any) -> Message:
    """``om.compose.message`` as a function, for callers that hold an engine (the outreach
    queue): a composed message with text, parts and reasons."""
    return om.compose.message(customer_id, topic, **options)


def message_dict(message: Message) -> dict[str, Any]:
    """A message as a JSON-ready dict."""
    return json.loads(json.dumps(message.to_dict(), default=str))


__all__ = [
    "EXPLORATION",
    "MIN_REWARDS",
    "SAMPLES",
    "STYLE_POINTS",
    "Compose",
    "compose_message",
    "load_bundle_catalog",
    "load_travel_catalog",
    "message_dict",
    "sample_catalog",
    "style_point",
]
