"""Background training: runs in a separate process, so serving threads never wait for it.

A training job trains the default recommender and the session model (``recommend.train``) and a
bought-together model when the store has orders, then saves them as new versions. Servers notice
new versions on disk and swap them in (see ``workspaces``); so a model trained by
``omotenashi train`` from the command line is picked up the same way. A lock file keeps two
server processes from training the same workspace at once (``store.artefacts.lock``).
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from omotenashi.errors import DataError, NotFound
from omotenashi.recommend import Recommender, load_model, make_model, save_model, train
from omotenashi.storage import LockHeld

#: Model answering ``/items/{id}/bought-together`` (fitted on orders).
TOGETHER_MODEL = "together"
SESSION_MODEL = "sknn"


def train_job(db_url: str, model: str | None) -> dict[str, Any]:
    """Train the models of one store (runs in a child process).

    Parameters
    ----------
    db_url : str
        The workspace's store.
    model : str, optional
        Default model to train; None lets ``train`` choose on the store's data.

    Returns
    -------
    dict
        ``model``, ``version``, ``fit_s``, ``together`` (orders seen) or ``skipped`` (another
        process is training) or ``error``.
    """
    from omotenashi.engine import Omotenashi

    start = time.perf_counter()
    om = Omotenashi(db_url, create=False)
    try:
        root = Path(om.root)
        with ExitStack() as held:
            try:
                held.enter_context(om.store.artefacts.lock("train", wait=False))
            except LockHeld:
                return {"skipped": "another process is training this workspace"}
            try:
                info = train(om, model)
            except DataError as exc:
                return {"error": str(exc)}
            result = {"model": info["model"], "version": info["version"]}
            events = om.events_frame(["purchase"])
            orders = events[events["order_id"].notna() & events["item_id"].notna()]
            if len(orders):
                frame = orders.rename(columns={"order_id": "user_id"})[
                    ["user_id", "item_id", "timestamp"]
                ]
                items = om.items_frame()
                fitted = make_model(TOGETHER_MODEL).fit(frame, items if len(items) else None)
                save_model(fitted, root, metadata={"orders": int(frame["user_id"].nunique())})
                result["together"] = int(frame["user_id"].nunique())
            result["seconds"] = round(time.perf_counter() - start, 3)
            return json.loads(json.dumps(result, default=str))
    finally:
        om.close()


def models_stamp(root: Path) -> tuple:
    """What changes on disk when a model is saved or a new default is set."""
    models = root / "models"
    default = models / "DEFAULT"
    try:
        marker = (default.read_text().strip(), default.stat().st_mtime_ns)
    except OSError:
        marker = None
    versions = []
    if models.is_dir():
        for folder in sorted(p for p in models.iterdir() if p.is_dir()):
            numbers = [int(p.name[1:]) for p in folder.glob("v*") if p.name[1:].isdigit()]
            if numbers:
                versions.append((folder.name, max(numbers)))
    return marker, tuple(versions)


class ModelSet:
    """The models a workspace serves with, loaded together and swapped as one reference."""

    def __init__(
        self,
        main: Recommender | None = None,
        meta: dict[str, Any] | None = None,
        session: Recommender | None = None,
        together: Recommender | None = None,
        stamp: tuple = (),
    ) -> None:
        self.main = main
        self.meta = meta or {}
        self.session = session
        self.together = together
        self.stamp = stamp

    @property
    def label(self) -> str | None:
        if self.main is None:
            return None
        return f"{self.meta.get('model')}:v{self.meta.get('version')}"

    @classmethod
    def load(cls, root: Path) -> ModelSet:
        """Load the default, session and bought-together models found under ``root``."""
        stamp = models_stamp(root)
        try:
            main, meta = load_model(root)
        except NotFound:
            return cls(stamp=stamp)
        names = {name for name, _ in stamp[1]}
        session = load_model(root, SESSION_MODEL)[0] if SESSION_MODEL in names else None
        together = load_model(root, TOGETHER_MODEL)[0] if TOGETHER_MODEL in names else None
        return cls(main, meta, session, together, stamp)
