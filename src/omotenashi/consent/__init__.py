"""Consent per purpose and the preference centre, as plain rules: which purposes exist, what
applies before a customer answers, how personal their answers may be, and what they told the
preference centre (validated the same way for every face)."""

from omotenashi.consent._policy import (
    ANALYTICS,
    BUILT_IN_PURPOSES,
    CONSENT_MODELS,
    DEFAULT_MODEL,
    MARKETING,
    PERSONALIZATION,
    Personalization,
    check_model,
    check_purpose_name,
    parse_changes,
    parse_granted,
    personalization,
)
from omotenashi.consent._preferences import (
    FIELDS,
    INTEREST_BOOST,
    LEVELS,
    Preferences,
    Taste,
    parse_preferences,
    parse_taste,
    stored_preferences,
)

__all__ = [
    "ANALYTICS",
    "BUILT_IN_PURPOSES",
    "CONSENT_MODELS",
    "DEFAULT_MODEL",
    "FIELDS",
    "INTEREST_BOOST",
    "LEVELS",
    "MARKETING",
    "PERSONALIZATION",
    "Personalization",
    "Preferences",
    "Taste",
    "check_model",
    "check_purpose_name",
    "parse_changes",
    "parse_granted",
    "parse_preferences",
    "parse_taste",
    "personalization",
    "stored_preferences",
]
