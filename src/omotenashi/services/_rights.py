"""Data rights: hand a person everything held about them, and erase them with a receipt.

Both use cases go through the concerns of the store that hold personal data
(``storage.personal_data_holders``: every concern implementing ``export_person`` and
``erase_person``), so a concern added later is exported and erased without a change here.

An erasure deletes the person's rows in one store transaction (decision logs, which write on a
connection of their own, just before it; the person's ids in ``store.identity_changes``, the log
of merges other processes follow, among them), records the erasure in ``store.erasures`` in that
same transaction, wipes the traces deleted rows leave in the store's files, and fits every saved
model again without the person (older versions, which hold their ids, are deleted). Serving
processes follow ``store.erasures`` as they follow events, and drop what they keep in memory
about the person (see ``Workspace.follow``).

The receipt names the person only by a salted SHA-256 of the id: whoever holds the id (and the
receipt) can check it, while the receipt itself does not say whom it was about. Ids from a small
or guessable space (sequential numbers) can still be found by trying them all against one
receipt: the salt only stops one table of hashes from serving for every receipt.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from omotenashi.errors import NotFound
from omotenashi.events import clean_id, now_micros
from omotenashi.services._insights import ACTIVITY_FILE
from omotenashi.storage import PersonKeys, Scrubbing, personal_data_holders

if TYPE_CHECKING:
    from omotenashi.services._engine import Omotenashi
    from omotenashi.services._workspaces import Workspace

#: Version of the export document's layout.
EXPORT_FORMAT = "omotenashi.export/1"
#: Version of the erasure receipt's layout.
RECEIPT_FORMAT = "omotenashi.erasure/1"

#: ``step(message)``: a step of an erasure began (for progress output).
Step = Callable[[str], None]


def salted_hash(salt: str, value: str) -> str:
    """SHA-256 (hex) of ``salt`` and ``value``: how receipts and erasure records name ids."""
    return hashlib.sha256(f"{salt}:{value}".encode()).hexdigest()


def receipt_matches(receipt: dict[str, Any], customer_id: str) -> bool:
    """Whether an erasure receipt is about ``customer_id`` (the id that was erased)."""
    subject = receipt.get("subject", {})
    return salted_hash(str(subject.get("salt", "")), customer_id) == subject.get("sha256")


@dataclass(frozen=True)
class Erasure:
    """What an erasure did: the ``receipt`` (safe to keep and show) and, in memory only, the
    ids it erased (``keys``), so that the caller can drop them from its own caches."""

    receipt: dict[str, Any]
    keys: PersonKeys


def forget_models(om: Omotenashi) -> bool:
    """Swap an engine's model cache for what is on disk now (after an erasure refitted or
    deleted the models); True when it changed."""
    from omotenashi.services._training import ModelSet

    try:
        return om.recommendations.reload(preload=True)
    except NotFound:  # no model left on disk: serve none rather than the old one
        om.recommendations.models = ModelSet()
        return True


def erase_in_workspace(ws: Workspace, customer_id: str) -> dict[str, Any]:
    """Erase a person from a server's workspace: the rows (on the workspace's write
    connection), the models, and what this process keeps in memory; other processes serving
    the workspace follow the erasure record (``Workspace.follow_erasures``). Returns the
    receipt."""
    erasure = ws.edits.rights.erase(customer_id)
    ws.forget_ids([*erasure.keys.customer_ids, *erasure.keys.anonymous_ids])
    return erasure.receipt


class Rights:
    """Export and erasure of one person's data in one engine's store."""

    def __init__(self, om: Omotenashi) -> None:
        self._om = om

    def _keys(self, customer_id: str) -> PersonKeys:
        """Every id of the person ``customer_id`` (any of their ids) names; a bare id when the
        identity graph knows it not (a visitor decided on by anonymous id leaves rows but no
        identity)."""
        customer_id = clean_id(customer_id, "customer_id")
        person = self._om.identities.person(customer_id)  # any id: merged, anonymous ...
        keys = self._om.store.identities.person_keys(person) if person is not None else None
        # unknown to the graph: the id may be a customer's or an unlinked visitor's
        return keys or PersonKeys(customer_id, (customer_id,), (customer_id,))

    def _tables(self, keys: PersonKeys) -> dict[str, list[dict[str, Any]]]:
        tables: dict[str, list[dict[str, Any]]] = {}
        for holder in personal_data_holders(self._om.store).values():
            for table, rows in holder.export_person(keys).items():
                tables.setdefault(table, []).extend(rows)
        return tables

    def export(self, customer_id: str) -> dict[str, Any]:
        """Everything held about the person as one JSON-ready document.

        ``tables`` has every row about them, by table (events, identities, customers,
        customer_scores, decisions with their rewards, and what other concerns hold);
        ``profile`` is the unified profile computed from them. ``NotFound`` when nothing is
        held about the id.
        """
        keys = self._keys(customer_id)
        tables = self._tables(keys)
        self._om.identities.require_held(customer_id, tables)
        self._om.access.record("export", keys.customer_id)
        # the export lists every access, this one included: only that table is read again
        tables.update(self._om.access.export_person(keys))
        try:
            profile: dict[str, Any] | None = self._om.profile(keys.customer_id).model_dump()
        except NotFound:  # rows (decisions) without events or a record
            profile = None
        return {
            "format": EXPORT_FORMAT,
            "exported_at": datetime.now(UTC).isoformat(),
            "customer_id": keys.customer_id,
            "ids": {
                "customer_ids": list(keys.customer_ids),
                "anonymous_ids": list(keys.anonymous_ids),
            },
            "profile": profile,
            "tables": tables,
        }

    def erase(self, customer_id: str, *, retrain: bool = True, step: Step | None = None) -> Erasure:
        """Erase the person ``customer_id`` names, with every id linked to them.

        Deletes every row about them in every concern, records the erasure (no id in clear),
        wipes deleted rows from the store's files and, with ``retrain``, fits every saved model
        again without them (older versions are deleted). Safe to run again: a second run
        finishes what an interrupted one left. ``NotFound`` when nothing is held about the id.
        """
        say = step or (lambda message: None)
        start = time.perf_counter()
        store = self._om.store
        keys = self._keys(customer_id)
        self._om.identities.require_held(customer_id, self._tables(keys))  # before deleting
        holders = personal_data_holders(store)
        erased: dict[str, int] = {}
        say("erasing decision logs")
        for name, holder in holders.items():  # on connections of their own: first
            if getattr(holder, "own_connection", False):
                erased[name] = holder.erase_person(keys)
        # the access log's entries, those still waiting in memory for their batch included
        erased["access"] = self._om.access.erase_person(keys)
        salt = secrets.token_hex(16)
        receipt_id = uuid.uuid4().hex
        ids = [*keys.customer_ids, *keys.anonymous_ids]
        say("erasing rows")
        with store.transaction():
            for name, holder in holders.items():
                if name not in erased and not getattr(holder, "own_connection", False):
                    erased[name] = holder.erase_person(keys)
            if not any(erased.values()):
                raise NotFound(f"customer {customer_id!r}: nothing is held about this id")
            receipt = {
                "format": RECEIPT_FORMAT,
                "receipt_id": receipt_id,
                "erased_at": datetime.now(UTC).isoformat(),
                "subject": {"sha256": salted_hash(salt, keys.customer_id), "salt": salt},
                "ids": {
                    "customer_ids": len(keys.customer_ids),
                    "anonymous_ids": len(keys.anonymous_ids),
                },
                "rows": {table: n for table, n in sorted(erased.items()) if n},
                "models": [],
                "seconds": None,
            }
            store.erasures.record(
                receipt_id, now_micros(), salt, [salted_hash(salt, i) for i in ids], receipt
            )
        # the dashboard's saved activity totals knew the person's ids (hashed): read again
        store.artefacts.path(ACTIVITY_FILE).unlink(missing_ok=True)
        if isinstance(store, Scrubbing):
            say("wiping deleted rows from the store's files")
            store.scrub()
        if retrain and erased.get("events"):
            say("fitting the saved models again without them")
            from omotenashi.services._training import retrain_saved

            receipt["models"] = retrain_saved(self._om, note={"erasure": receipt_id})
        receipt["seconds"] = round(time.perf_counter() - start, 3)
        store.erasures.complete(receipt_id, receipt)
        if "recommendations" in vars(self._om):  # this engine's model cache
            forget_models(self._om)
        self._om.access.record("erase", keys.customer_id)  # kept without the id
        return Erasure(receipt, keys)

    def receipts(self) -> list[dict[str, Any]]:
        """Every erasure receipt of the store, oldest first."""
        return self._om.store.erasures.receipts()


__all__ = [
    "EXPORT_FORMAT",
    "RECEIPT_FORMAT",
    "Erasure",
    "Rights",
    "erase_in_workspace",
    "forget_models",
    "receipt_matches",
    "salted_hash",
]
