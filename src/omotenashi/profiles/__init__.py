"""The unified profile (customer 360) and RFM figures, read from the store.

RFM, as used everywhere in omotenashi:

* **recency_days** — whole days from the customer's last purchase to the reference date
  (``as_of``, default: the store's latest event), rounded down; None without purchases;
* **frequency** — distinct purchase orders (``order_id``); purchases without an order id count
  once per distinct timestamp;
* **monetary** — purchase value net of returns.
"""

from omotenashi.identity import resolve_customer
from omotenashi.profiles._profile import (
    DAY_US,
    RFM,
    CategoryShare,
    Identity,
    Profile,
    RankBy,
    TimelineEntry,
    TimelinePage,
    build_profile,
    person,
    recency_days,
    rfm_table,
    timeline,
    top_customers,
)

__all__ = [
    "DAY_US",
    "RFM",
    "CategoryShare",
    "Identity",
    "Profile",
    "RankBy",
    "TimelineEntry",
    "TimelinePage",
    "build_profile",
    "person",
    "recency_days",
    "resolve_customer",
    "rfm_table",
    "timeline",
    "top_customers",
]
