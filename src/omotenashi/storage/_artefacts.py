"""The artefact folder of a store: models, reports and small JSON state written beside the data.

Several processes of the service (and the CLI) read and write these files at once. One helper
writes them: :meth:`FolderArtefacts.atomic_write` (a temporary file renamed over the old one, so
a reader sees the old content or the new, never half) and :meth:`FolderArtefacts.lock` (an
exclusive ``flock`` on ``<name>.lock``, for read-modify-write and for "only one trainer").
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omotenashi.errors import StorageError


class LockHeld(StorageError):
    """Another process holds the lock asked for without waiting."""


class FolderArtefacts:
    """``ArtefactStore`` on a local folder (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, name: str | os.PathLike[str]) -> Path:
        return self.root / name  # an absolute name replaces the root

    def atomic_write(self, name: str | os.PathLike[str], data: bytes | str) -> Path:
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(
            f".{target.name}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}.tmp"
        )
        try:
            tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return target

    @contextmanager
    def lock(self, name: str, *, wait: bool = True) -> Iterator[None]:
        path = self.path(f"{name}.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:  # closing the file releases the lock
            try:
                import fcntl
            except ImportError:  # no flock (Windows): one process per folder is assumed
                yield
                return
            flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle, flags)
            except BlockingIOError:
                raise LockHeld(f"{path} is held by another process") from None
            yield


__all__ = ["FolderArtefacts", "LockHeld"]
