"""Disk-sync tuning of a SQLite store: group sync of the write-ahead log, and checkpoints run
off the request path (the optional ``DeferredSync`` and ``Checkpointing`` capabilities)."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

from omotenashi.errors import StorageError

log = logging.getLogger("omotenashi.storage")


class LogSync:
    """``fsync`` of a store's write-ahead log file (see ``SQLiteStore.defer_sync``).

    Keeps the file open between calls; reopens it should the log be replaced by a new file
    (only when every connection closed it), so a flush never syncs a file no longer in use.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._inode: int | None = None
        self._lock = threading.Lock()

    def flush(self) -> None:
        """Make everything written to the log so far durable."""
        with self._lock:
            try:
                inode = os.stat(self.path).st_ino
            except FileNotFoundError:
                return  # no log: every commit was checkpointed into the (synced) store file
            if self._fd is None or inode != self._inode:
                self._close_fd()
                self._fd = os.open(self.path, os.O_RDONLY)
                self._inode = os.fstat(self._fd).st_ino
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise StorageError(f"cannot sync the store log {self.path!r}: {exc}") from exc

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close_fd()


class WalCheckpointer:
    """Passive checkpoints of a store file on a connection of their own.

    Why a separate connection: the store's own connection is held by the writer during its
    transactions; a passive checkpoint never blocks readers or the writer, and running it from
    the service's maintenance thread keeps the copy out of the commits requests wait on.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def run(self) -> tuple[int, int] | None:
        """``(log pages, pages copied)``, or None when busy or closing (the next call, or the
        writer past its autocheckpoint size, does it)."""
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
                _, pages, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:
                log.info("checkpoint of %s skipped: %s", self.path, exc)
                return None
        return pages, copied

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


__all__ = ["LogSync", "WalCheckpointer"]
