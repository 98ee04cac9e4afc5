"""Messages from parts: greeting, reason, emphasis, offer and call to action, in several tones.

The emphasis and tone of a message are one choice among ``VARIANTS`` (emphasis x tone). While
there is little feedback, starting rules choose from the profile and past reactions; every
choice is made with a known probability (the rule's choice most of the time, the others
sometimes), so the log supports off-policy evaluation of any new choice policy. The texts are
plain templates written here; no language model is involved, so every word can be traced to a
part and a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EMPHASES = ("quick", "lasting", "value")
TONES = ("warm", "brief", "formal")
#: Variant ids of the style decision, ``emphasis/tone``.
VARIANTS = tuple(f"{e}/{t}" for e in EMPHASES for t in TONES)
CHANNELS = ("email", "sms", "call")

_GREETING = {
    "warm": ("Hi {name},", "Hi there,"),
    "brief": ("{name} —", "Hello,"),
    "formal": ("Dear {name},", "Dear customer,"),
}
_EMPHASIS = {
    ("quick", "warm"): "We can get {topic} sorted quickly for you — it takes one short step.",
    ("quick", "brief"): "{topic}: done in minutes.",
    ("quick", "formal"): "{topic} can be completed promptly, in a single short step.",
    ("lasting", "warm"): "We would love to help you plan {topic} for the long run, so it keeps "
    "working for you.",
    ("lasting", "brief"): "{topic}: set it up once, keep the benefit.",
    ("lasting", "formal"): "We propose a lasting plan for {topic}, reviewed with you over time.",
    ("value", "warm"): "We found a way to make {topic} good value for you.",
    ("value", "brief"): "{topic}: best value for you.",
    ("value", "formal"): "{topic} is available to you on favourable terms.",
}
_OFFER = {
    "warm": "As a thank-you: {offer}.",
    "brief": "Offer: {offer}.",
    "formal": "We are pleased to offer you {offer}.",
}
_CTA = {
    ("email", "warm"): "Just reply to this message and we will take care of the rest.",
    ("email", "brief"): "Reply YES to go ahead.",
    ("email", "formal"): "Please reply to this message to arrange it.",
    ("sms", "warm"): "Reply YES and we'll do the rest.",
    ("sms", "brief"): "Reply YES.",
    ("sms", "formal"): "Reply YES to confirm.",
}
_TALK = {
    "quick": ["Stress that it takes one short step.", "Offer to do it this week."],
    "lasting": [
        "Explain how the plan keeps working for them over time.",
        "Offer to review it together in a few months.",
    ],
    "value": ["Lead with the saving.", "Compare it with what they pay now."],
}
_OPENER = {
    "warm": "Greet {who} warmly and thank them for being with us.",
    "brief": "Say who you are and why you call in one sentence.",
    "formal": "Introduce yourself and the company; address {who} formally.",
}
_CLOSE = {
    "warm": "Ask if they would like you to set it up now.",
    "brief": "Ask for a yes or no.",
    "formal": "Ask whether they wish to proceed, and confirm by e-mail.",
}


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class MessagePart:
    slot: str  # greeting | reason | emphasis | offer | call_to_action | talking_point
    id: str
    text: str
    why: str


@dataclass
class Message:
    """A composed message: its text, the parts chosen and why, and the logged decision."""

    customer_id: str
    topic: str
    channel: str
    emphasis: str
    tone: str
    text: str
    parts: list[MessagePart]
    reasons: list[str]
    decision: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "topic": self.topic,
            "channel": self.channel,
            "emphasis": self.emphasis,
            "tone": self.tone,
            "text": self.text,
            "parts": [p.__dict__ for p in self.parts],
            "reasons": list(self.reasons),
            "decision": dict(self.decision),
        }


def rule_style(
    profile: Mapping[str, Any], reactions: Mapping[str, float] | None = None
) -> tuple[str, str, list[str]]:
    """The starting rules: ``(emphasis, tone, reasons)`` from profile features (the flat dict of
    ``Profile.features``) and the customer's past reactions (variant -> mean reward)."""
    reasons = []
    liked = {v: r for v, r in (reactions or {}).items() if v in VARIANTS and r > 0}
    if liked:
        top = max(liked, key=lambda v: liked[v])
        emphasis, tone = top.split("/")
        reasons.append(f"you responded to a '{emphasis}', '{tone}' message before")
        return emphasis, tone, reasons
    goal = str(profile.get("attribute:goal", "")).lower()
    frequency = int(profile.get("frequency", 0) or 0)
    recency = int(profile.get("recency_days", -1) or -1)
    if goal in ("fast", "quick", "relief"):
        emphasis = "quick"
        reasons.append(f"your stated goal is '{goal}': the message leads with speed")
    elif goal in ("long_term", "long-term", "lasting", "plan"):
        emphasis = "lasting"
        reasons.append(f"your stated goal is '{goal}': the message leads with a lasting plan")
    elif recency > 120:
        emphasis = "value"
        reasons.append(f"{recency} days since your last order: the message leads with value")
    elif frequency >= 5:
        emphasis = "lasting"
        reasons.append(f"{frequency} orders so far: the message leads with a lasting plan")
    else:
        emphasis = "quick"
        reasons.append("few orders so far: the message leads with an easy first step")
    app_share = float(profile.get("channel_share:app", 0.0) or 0.0)
    if app_share >= 0.5:
        tone = "brief"
        reasons.append(f"{app_share:.0%} of your activity is in the app: a brief tone")
    elif frequency >= 5:
        tone = "warm"
        reasons.append("a long-standing customer: a warm tone")
    else:
        tone = "formal"
        reasons.append("a newer customer: a formal tone")
    return emphasis, tone, reasons


def rule_distribution(
    variant: str, eligible: Sequence[str] = VARIANTS, exploration: float = 0.2
) -> dict[str, float]:
    """The probabilities the starting rules choose with: ``1 - exploration`` on the rule's
    variant, the rest spread evenly, so every variant keeps a known, non-zero chance."""
    others = [v for v in eligible if v != variant]
    if not others:
        return {variant: 1.0}
    share = exploration / len(others)
    return {v: (1.0 - exploration if v == variant else share) for v in eligible}


def compose_text(
    *,
    customer_id: str,
    name: str | None,
    topic: str,
    channel: str,
    emphasis: str,
    tone: str,
    reason: str,
    offer: str | None,
    style_reasons: Sequence[str],
) -> tuple[str, list[MessagePart]]:
    """The text and its parts; for ``channel='call'`` a list of talking points."""
    why_style = "; ".join(style_reasons)
    if channel == "call":
        parts = [
            MessagePart(
                "talking_point",
                f"opener/{tone}",
                _OPENER[tone].format(who=name or "the customer"),
                f"tone '{tone}': {why_style}",
            ),
            MessagePart("reason", "reason", f"Why we call: {reason}.", "the reason given"),
        ]
        for i, point in enumerate(_TALK[emphasis]):
            parts.append(
                MessagePart(
                    "talking_point",
                    f"{emphasis}/{i + 1}",
                    point,
                    f"emphasis '{emphasis}'",
                )
            )
        if offer:
            parts.append(MessagePart("offer", "offer", f"Offer {offer}.", "the offer given"))
        parts.append(MessagePart("call_to_action", f"close/{tone}", _CLOSE[tone], f"tone '{tone}'"))
        text = "\n".join(f"- {p.text}" for p in parts)
        return text, parts
    parts = [
        MessagePart(
            "greeting",
            f"greeting/{tone}",
            (_GREETING[tone][0].format(name=name) if name else _GREETING[tone][1]),
            f"tone '{tone}': {why_style}",
        ),
        MessagePart("reason", "reason", _sentence(f"{reason}."), "the reason given"),
        MessagePart(
            "emphasis",
            f"{emphasis}/{tone}",
            _sentence(_EMPHASIS[emphasis, tone].format(topic=topic)),
            f"emphasis '{emphasis}'",
        ),
    ]
    if offer:
        parts.append(
            MessagePart(
                "offer", f"offer/{tone}", _OFFER[tone].format(offer=offer), "the offer given"
            )
        )
    cta_channel = channel if channel in ("email", "sms") else "email"
    parts.append(
        MessagePart(
            "call_to_action",
            f"cta/{cta_channel}/{tone}",
            _CTA[cta_channel, tone],
            f"channel '{channel}', tone '{tone}'",
        )
    )
    first = parts[0].text
    body = " ".join(p.text for p in parts[1:])
    return f"{first}\n{body}", parts


# ---------------------------------------------------------------- a world to test choices in
@dataclass(frozen=True)
class MessageWorld:
    """A simulated audience whose reply chances per (person, emphasis, tone) are known, to
    check off-policy estimates of a message policy against the truth.

    People differ by goal (fast / long-term / none), order count, recency and app use; each
    goal has an emphasis that works best, app users prefer the brief tone.
    """

    seed: int = 0

    def people(self, n: int) -> list[dict[str, Any]]:
        rng = np.random.default_rng(self.seed)
        goals = rng.choice(["fast", "long_term", ""], size=n, p=[0.3, 0.3, 0.4])
        freq = rng.poisson(3.0, size=n)
        recency = rng.integers(1, 300, size=n)
        app = rng.random(n) < 0.35
        return [
            {
                "attribute:goal": str(goals[i]),
                "frequency": int(freq[i]),
                "recency_days": int(recency[i]),
                "channel_share:app": 0.8 if app[i] else 0.1,
            }
            for i in range(n)
        ]

    @staticmethod
    def reply_chance(person: Mapping[str, Any], variant: str) -> float:
        emphasis, tone = variant.split("/")
        goal = person.get("attribute:goal", "")
        best = {"fast": "quick", "long_term": "lasting"}.get(goal)
        if best is None:
            best = "value" if person.get("recency_days", 0) > 120 else "lasting"
        p = 0.04 + (0.10 if emphasis == best else 0.0)
        app = person.get("channel_share:app", 0.0) >= 0.5
        if (tone == "brief") == app:
            p += 0.05
        if tone == "formal" and not app and person.get("frequency", 0) < 2:
            p += 0.03
        return p


__all__ = [
    "CHANNELS",
    "EMPHASES",
    "TONES",
    "VARIANTS",
    "Message",
    "MessagePart",
    "MessageWorld",
    "compose_text",
    "rule_distribution",
    "rule_style",
]
