""" "Why am I seeing this?" in plain words, from the reasons a model gives for a recommendation.

Why from the reasons and nothing else: the sentence must say what actually made the item score
(``Recommendation.reasons`` are taken from the model's own computation), with each reason's
share of the score when the model's reasons are exact (``Recommendation.explained`` = 1), so
the words can never claim more than the model did.
"""

from __future__ import annotations

from omotenashi.recommend._base import Recommendation


def _share(weight: float, score: float) -> str:
    if score <= 0 or weight <= 0:
        return ""
    pct = round(100 * weight / score)
    return f" ({pct}% of its score)" if pct < 100 else ""


def plain_why(rec: Recommendation, note: str | None = None) -> str:
    """One or two sentences saying why ``rec`` was recommended.

    The reasons that raised the score come first, largest first, each with its share of the
    score; reasons that lowered it follow ("though ..."). ``note`` (why the answer is not
    personalized, say) ends the text. A recommendation made without reasons says so.
    """
    if not rec.reasons:
        text = "Recommended by the model (no reasons were asked for)."
    else:
        score = float(rec.score)
        exact = rec.explained is not None and abs(rec.explained - 1.0) < 1e-9
        up = sorted((r for r in rec.reasons if r.weight > 0), key=lambda r: -r.weight)
        down = [r for r in rec.reasons if r.weight < 0]
        flat = [r for r in rec.reasons if r.weight == 0]
        parts = [r.text + (_share(r.weight, score) if exact else "") for r in up]
        if not parts:
            parts = [r.text for r in flat] or ["the model ranks it highly"]
        text = "Recommended: " + "; ".join(parts)
        if down:
            text += "; though " + "; ".join(r.text for r in down)
        text += "."
        if rec.explained is not None and not exact and rec.explained < 0.995:
            covered = max(0, round(100 * rec.explained))
            text += f" These reasons account for {covered}% of its score."
    if note:
        text += f" Not personalized: {note}."
    return text


__all__ = ["plain_why"]
