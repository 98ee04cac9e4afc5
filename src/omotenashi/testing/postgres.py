"""A real PostgreSQL server for tests and benchmarks, on loopback.

:func:`server` gives the server named by ``$OMOTENASHI_TEST_POSTGRES`` (a URL whose user may
create databases), else starts a private cluster: ``initdb`` into a temporary folder and
``pg_ctl start`` on 127.0.0.1 with a free port. PostgreSQL refuses to run as root, so as root
the cluster runs as the ``postgres`` user (``runuser``) in a folder that user owns; its unix
socket stays inside that folder. Each test (or benchmark run) then creates its own database.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV_URL = "OMOTENASHI_TEST_POSTGRES"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin_dir() -> Path | None:
    """The newest installed PostgreSQL's programs (Debian keeps them off the PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivateCluster:
    """A throw-away PostgreSQL cluster (by default without durability: fsync is off)."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        self.bin_dir = bin_dir
        self.durable = durable
        self.dir = Path(tempfile.mkdtemp(prefix="omotenashi-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.prefix: list[str] = []
        self.user = pwd.getpwuid(os.getuid()).pw_name
        if os.getuid() == 0:  # the server will not run as root: run it as `postgres`
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError("running as root and there is no `postgres` user") from exc
            os.chown(self.dir, pg.pw_uid, pg.pw_gid)
            os.chmod(self.dir, 0o700)
            self.prefix = ["runuser", "-u", "postgres", "--"]
            self.user = "postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.prefix, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr or done.stdout}")

    def start(self) -> str:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c max_connections=300"
        options += " -c shared_buffers=256MB -c max_wal_size=4GB"
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    """A server on which the tests create (and drop) their own databases."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def _admin(self, sql: str) -> None:
        from omotenashi.storage.postgres import run_admin

        run_admin(self.admin_url, sql)

    def url_of(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + database))

    def create_database(self, template: str = "template0") -> str:
        """A new database (a copy of ``template``); returns its name."""
        name = "omotenashi_test_" + uuid.uuid4().hex[:12]
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Unavailable(RuntimeError):
    """No PostgreSQL server can be had here (the message says why)."""


@contextmanager
def server(*, durable: bool = False) -> Iterator[PostgresServer]:
    """The server of ``$OMOTENASHI_TEST_POSTGRES``, else a private cluster for the duration.

    ``durable=False`` turns ``fsync`` off in a private cluster (tests: nothing outlives the
    session); benchmarks pass ``durable=True``. Raises :class:`Unavailable` when neither works.
    """
    if importlib.util.find_spec("psycopg") is None:
        raise Unavailable("psycopg is not installed")
    url = os.environ.get(ENV_URL)
    if url:
        yield PostgresServer(url)
        return
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise Unavailable("initdb and pg_ctl are not installed")
    try:
        cluster = PrivateCluster(bin_dir, durable=durable)
    except (RuntimeError, OSError) as exc:
        raise Unavailable(str(exc)) from exc
    try:
        admin = cluster.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        cluster.stop()
        raise Unavailable(f"cannot start a private cluster: {exc}") from exc
    try:
        yield PostgresServer(admin)
    finally:
        cluster.stop()


__all__ = ["ENV_URL", "PostgresServer", "PrivateCluster", "Unavailable", "server"]
