"""Next-best-action and outreach: declared actions, the contact policy, and the ranking of every
action for every customer (plain data in, plain data out; no store, no face)."""

from omotenashi.actions._features import DAY_US, FEATURE_COLUMNS, customer_features
from omotenashi.actions._rank import (
    HISTORY_COLUMNS,
    LIVE_STATUSES,
    QUEUE_COLUMNS,
    REMINDER_COLUMNS,
    Plan,
    in_quiet_hours,
    outcome_counts,
    plan,
    rates_from_counts,
    reminders_frame,
    response_rates,
)
from omotenashi.actions._spec import (
    DEFAULT_ACTIONS,
    KINDS,
    NEGATIVE_OUTCOMES,
    OUTCOMES,
    POSITIVE_OUTCOMES,
    Action,
    ContactPolicy,
    parse_action,
    parse_actions,
)

__all__ = [
    "DAY_US",
    "DEFAULT_ACTIONS",
    "FEATURE_COLUMNS",
    "HISTORY_COLUMNS",
    "KINDS",
    "LIVE_STATUSES",
    "NEGATIVE_OUTCOMES",
    "OUTCOMES",
    "POSITIVE_OUTCOMES",
    "QUEUE_COLUMNS",
    "REMINDER_COLUMNS",
    "Action",
    "ContactPolicy",
    "Plan",
    "customer_features",
    "in_quiet_hours",
    "outcome_counts",
    "parse_action",
    "parse_actions",
    "plan",
    "rates_from_counts",
    "reminders_frame",
    "response_rates",
]
