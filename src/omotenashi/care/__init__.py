"""Care: clinic recalls and the goals a customer holds with the business.

Recalls say which patient is due for which check-up, vaccine, test or follow-up and why; goals
follow a relationship over time (progress, streaks, lapses) and time nudges to the person.
Plain frames in, plain rows out: the services read the store and the faces print.

Stability: provisional (0.x); names in ``__all__`` are the public surface.
"""

from omotenashi.care._goals import (
    NUDGE_TYPES,
    Goal,
    GoalStatus,
    Timing,
    goal_reminder,
    goal_status,
    matching,
    nudge_time,
    person_timing,
)
from omotenashi.care._recalls import (
    DEFAULT_RULES,
    REMINDER_FIELDS,
    AgeBand,
    CarePlanRule,
    FollowUpRule,
    ImmunizationRule,
    MonitoringRule,
    Recall,
    WellnessRule,
    clinic_recalls,
    priority_of,
    recall_frame,
)

__all__ = [
    "DEFAULT_RULES",
    "NUDGE_TYPES",
    "REMINDER_FIELDS",
    "AgeBand",
    "CarePlanRule",
    "FollowUpRule",
    "Goal",
    "GoalStatus",
    "ImmunizationRule",
    "MonitoringRule",
    "Recall",
    "Timing",
    "WellnessRule",
    "clinic_recalls",
    "goal_reminder",
    "goal_status",
    "matching",
    "nudge_time",
    "person_timing",
    "priority_of",
    "recall_frame",
]
