"""Table definitions, written in SQL that SQLite and PostgreSQL both accept.

Every row that belongs to a person carries the person's ids (``customer_id`` / ``anonymous_id`` on
events, ``customer_id`` on identities and customers), so that export and erasure can find all of a
person's data through indexed columns. Timestamps are BIGINT microseconds since the epoch (UTC).
"""

from __future__ import annotations

#: 2 added ``erasures``, 3 the consent and preferences tables, 4 ``access_log``, 5
#: ``identity_changes`` and ``identity_change_ids``; an older store gets the new tables when it
#: is next opened
SCHEMA_VERSION = 5

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "customer_id",
    "anonymous_id",
    "type",
    "item_id",
    "order_id",
    "quantity",
    "value",
    "rating",
    "channel",
    "ts",
    "context",
    "received_at",
)

# ``seq`` is the arrival order; SQLite makes an INTEGER PRIMARY KEY the rowid, PostgreSQL will use
# an identity column in its own dialect file.
DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL,
        customer_id TEXT,
        anonymous_id TEXT,
        type TEXT NOT NULL,
        item_id TEXT,
        order_id TEXT,
        quantity DOUBLE PRECISION,
        value DOUBLE PRECISION,
        rating DOUBLE PRECISION,
        channel TEXT,
        ts BIGINT NOT NULL,
        context TEXT,
        received_at BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS identities (
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        source TEXT NOT NULL,
        linked_at BIGINT NOT NULL,
        PRIMARY KEY (kind, value)
    )""",
    "CREATE INDEX IF NOT EXISTS identities_by_customer ON identities (customer_id)",
    """CREATE TABLE IF NOT EXISTS customers (
        customer_id TEXT PRIMARY KEY,
        attributes TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS items (
        item_id TEXT PRIMARY KEY,
        title TEXT,
        description TEXT,
        price DOUBLE PRECISION,
        categories TEXT NOT NULL,
        tags TEXT NOT NULL,
        attributes TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS item_categories (
        item_id TEXT NOT NULL,
        category TEXT NOT NULL,
        PRIMARY KEY (item_id, category)
    )""",
    # figures computed about a customer by a model run (RFM segment, CLV, P(alive), risk ...);
    # a run replaces all rows of its source
    """CREATE TABLE IF NOT EXISTS customer_scores (
        customer_id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        source TEXT NOT NULL,
        computed_at BIGINT NOT NULL,
        PRIMARY KEY (customer_id, name)
    )""",
    "CREATE INDEX IF NOT EXISTS customer_scores_by_source ON customer_scores (source)",
    """CREATE TABLE IF NOT EXISTS imports (
        import_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        kind TEXT NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_written BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        rejected BIGINT NOT NULL,
        started_at BIGINT NOT NULL,
        finished_at BIGINT NOT NULL
    )""",
    # consent: every change (the history, never updated) and the latest answer per purpose
    """CREATE TABLE IF NOT EXISTS consent_history (
        customer_id TEXT NOT NULL,
        purpose TEXT NOT NULL,
        granted INTEGER NOT NULL,
        source TEXT NOT NULL,
        key_id TEXT,
        at BIGINT NOT NULL,
        PRIMARY KEY (customer_id, purpose, at)
    )""",
    """CREATE TABLE IF NOT EXISTS consent_state (
        customer_id TEXT NOT NULL,
        purpose TEXT NOT NULL,
        granted INTEGER NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (customer_id, purpose)
    )""",
    "CREATE INDEX IF NOT EXISTS consent_state_by_purpose ON consent_state (purpose, granted)",
    # the workspace's purposes and what applies before a customer answers
    """CREATE TABLE IF NOT EXISTS consent_purposes (
        purpose TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        default_granted INTEGER NOT NULL,
        updated_at BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS customer_preferences (
        customer_id TEXT PRIMARY KEY,
        preferences TEXT NOT NULL,
        updated_at BIGINT NOT NULL
    )""",
    # one row per erased person: no id in clear, only salted hashes (see services._rights)
    """CREATE TABLE IF NOT EXISTS erasures (
        seq INTEGER PRIMARY KEY,
        receipt_id TEXT NOT NULL UNIQUE,
        erased_at BIGINT NOT NULL,
        salt TEXT NOT NULL,
        id_hashes TEXT NOT NULL,
        receipt TEXT NOT NULL
    )""",
    # each change of which ids make one person (a merge, a linked anonymous id), followed by
    # every serving process; its ids in identity_change_ids, deleted by an erasure of the person
    # (the entry stays, so that seq never goes back: see storage.IdentityChangeLog)
    """CREATE TABLE IF NOT EXISTS identity_changes (
        seq INTEGER PRIMARY KEY,
        changed_at BIGINT NOT NULL,
        kind TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS identity_change_ids (
        seq BIGINT NOT NULL,
        customer_id TEXT,
        anonymous_id TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS identity_change_ids_by_seq ON identity_change_ids (seq)",
    "CREATE INDEX IF NOT EXISTS identity_change_ids_by_customer ON identity_change_ids"
    " (customer_id) WHERE customer_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS identity_change_ids_by_anonymous ON identity_change_ids"
    " (anonymous_id) WHERE anonymous_id IS NOT NULL",
    # who read or changed a person's data: never the values, only the action and the ids; a
    # row without customer_id is an anonymised one (an erasure, say: see storage.access)
    """CREATE TABLE IF NOT EXISTS access_log (
        seq INTEGER PRIMARY KEY,
        at BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        action TEXT NOT NULL,
        customer_id TEXT,
        workspace TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS access_log_by_customer ON access_log (customer_id)",
    "CREATE INDEX IF NOT EXISTS access_log_by_time ON access_log (at)",
)

#: The outreach queue and contact history: one row per proposed contact, kept as it is approved,
#: skipped, sent and answered (``storage._sql.SQLContactHistory``). Also created on first use in
#: stores made before it existed.
CONTACT_COLUMNS: tuple[str, ...] = (
    "contact_id",
    "run_date",
    "customer_id",
    "action",
    "kind",
    "channel",
    "topic",
    "send_at",
    "local_time",
    "time_zone",
    "message",
    "reasons",
    "expected_value",
    "propensity",
    "probabilities",
    "rule",
    "decision_id",
    "status",
    "created_at",
    "updated_at",
    "outcome",
    "outcome_value",
    "outcome_at",
)
CONTACT_DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS outreach_contacts (
        contact_id TEXT PRIMARY KEY,
        run_date TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        action TEXT NOT NULL,
        kind TEXT NOT NULL,
        channel TEXT NOT NULL,
        topic TEXT NOT NULL,
        send_at BIGINT NOT NULL,
        local_time TEXT NOT NULL,
        time_zone TEXT NOT NULL,
        message TEXT NOT NULL,
        reasons TEXT NOT NULL,
        expected_value DOUBLE PRECISION NOT NULL,
        propensity DOUBLE PRECISION NOT NULL,
        probabilities TEXT NOT NULL,
        rule TEXT NOT NULL,
        decision_id TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        outcome TEXT,
        outcome_value DOUBLE PRECISION,
        outcome_at BIGINT
    )""",
    "CREATE INDEX IF NOT EXISTS outreach_by_date ON outreach_contacts (run_date, status)",
    "CREATE INDEX IF NOT EXISTS outreach_by_customer ON outreach_contacts (customer_id)",
)
DDL = DDL + CONTACT_DDL
# goals a customer holds (definition as JSON) and the named agent each concierge customer has;
# created with a store, and on first use in a store made before they existed
CARE_DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS goals (
        goal_id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        definition TEXT NOT NULL,
        created_at BIGINT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS goals_by_customer ON goals (customer_id)",
    """CREATE TABLE IF NOT EXISTS concierge_assignments (
        customer_id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        reason TEXT NOT NULL,
        assigned_at BIGINT NOT NULL
    )""",
)
DDL = (*DDL, *CARE_DDL)

EVENT_INDEXES: dict[str, str] = {
    "events_by_id": "CREATE UNIQUE INDEX IF NOT EXISTS events_by_id ON events (event_id)",
    "events_by_customer": "CREATE INDEX IF NOT EXISTS events_by_customer ON events (customer_id)"
    " WHERE customer_id IS NOT NULL",
    "events_by_anonymous": "CREATE INDEX IF NOT EXISTS events_by_anonymous ON events (anonymous_id)"
    " WHERE anonymous_id IS NOT NULL",
}

# The person an event belongs to: its (merged) customer id, else the customer its anonymous id
# is linked to, else the anonymous visitor itself (prefixed: it never collides with a customer id).
ANONYMOUS_PREFIX = "anonymous:"


def resolved_events(source: str = "events") -> str:
    """The events of ``source`` (the ``events`` table, or a parenthesised SELECT of its rows)
    with the person each belongs to: ``person_id`` and ``known`` (see :data:`RESOLVED_EVENTS`)."""
    return f"""
SELECT e.seq, e.event_id,
       CASE WHEN e.customer_id IS NOT NULL THEN COALESCE(mc.customer_id, e.customer_id)
            WHEN ma.customer_id IS NOT NULL THEN ma.customer_id
            ELSE '{ANONYMOUS_PREFIX}' || e.anonymous_id END AS person_id,
       CASE WHEN e.customer_id IS NOT NULL OR ma.customer_id IS NOT NULL THEN 1 ELSE 0 END
           AS known,
       e.customer_id, e.anonymous_id, e.type, e.item_id, e.order_id, e.quantity, e.value,
       e.rating, e.channel, e.ts, e.context
FROM {source} e
LEFT JOIN identities mc ON mc.kind = 'customer' AND mc.value = e.customer_id
LEFT JOIN identities ma ON ma.kind = 'anonymous' AND ma.value = e.anonymous_id
"""


RESOLVED_EVENTS = resolved_events()

# Aggregates shared by one profile and the all-customers ranking (frequency = distinct purchase
# orders, or distinct purchase timestamps for purchases without an order id; monetary = purchases
# net of returns).
RFM_AGGREGATES = """
       MIN(ts) AS first_seen, MAX(ts) AS last_seen, COUNT(*) AS events,
       COUNT(DISTINCT CASE WHEN type = 'purchase' THEN order_id END)
         + COUNT(DISTINCT CASE WHEN type = 'purchase' AND order_id IS NULL THEN ts END)
           AS frequency,
       COALESCE(SUM(CASE WHEN type = 'purchase' THEN value
                         WHEN type = 'return' THEN -value END), 0) AS monetary,
       MAX(CASE WHEN type = 'purchase' THEN ts END) AS last_purchase
"""
