"""One PostgreSQL connection shared by every concern of a store: URL options, transactions, schema.

Why one connection per store handle: ``store.transaction()`` must span every concern (events,
identities, catalogue ...) so that a failed import or merge rolls back as a whole, exactly as on
SQLite. Several handles (the service's reader and writer, other worker processes, the CLI) use
several connections; PostgreSQL's MVCC lets readers go on while one writes.

Workspaces: a store lives in one schema of a database (``?schema=name`` in the URL; ``public``
by default). The service gives each further workspace a schema of its own in the same database
(``ws_<name>``): isolated tables, one server, one backup.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg.types.numeric import FloatDumper, Int8Dumper

from omotenashi.errors import NotFound, StorageError
from omotenashi.storage._schema import DDL, EVENT_INDEXES, SCHEMA_VERSION
from omotenashi.storage._sql import Dialect
from omotenashi.storage._transaction import Transactions

if TYPE_CHECKING:  # arrow loads with the first columnar read
    import pyarrow as pa

#: URL query options read by omotenashi (all others go to libpq: ``sslmode``, ``connect_timeout``).
OWN_OPTIONS = ("schema", "artefacts")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# ``seq`` in PostgreSQL's dialect: an identity column (values are handed out in insert order;
# see ``store.PostgresEventLog`` for why commit order matches too)
_SEQ_SQLITE = "seq INTEGER PRIMARY KEY"
_SEQ_POSTGRES = "seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"


def _postgres_ddl() -> tuple[str, ...]:
    statements = []
    for statement in DDL:
        if _SEQ_SQLITE in statement:
            statement = statement.replace(_SEQ_SQLITE, _SEQ_POSTGRES)
        statements.append(statement)
    assert any(_SEQ_POSTGRES in s for s in statements), "events.seq definition changed"
    return tuple(statements)


DECISION_DDL: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS decisions ("
    " decision_id TEXT PRIMARY KEY, point TEXT NOT NULL, customer_id TEXT NOT NULL,"
    " created_at DOUBLE PRECISION NOT NULL, variant TEXT NOT NULL,"
    " propensity DOUBLE PRECISION NOT NULL, probabilities TEXT NOT NULL, profile TEXT NOT NULL,"
    " context TEXT NOT NULL, policy TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS decision_rewards ("
    " decision_id TEXT PRIMARY KEY, value DOUBLE PRECISION NOT NULL,"
    " rewarded_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_decisions_customer ON decisions (customer_id)",
    "CREATE INDEX IF NOT EXISTS ix_decisions_point ON decisions (point, created_at)",
)

KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, workspace TEXT NOT NULL,"
    " scopes TEXT NOT NULL, secret_sha256 TEXT NOT NULL, label TEXT,"
    " created_at DOUBLE PRECISION NOT NULL, revoked_at DOUBLE PRECISION)"
)

STORE_DDL: tuple[str, ...] = (*_postgres_ddl(), *EVENT_INDEXES.values(), *DECISION_DDL)


@dataclass(frozen=True)
class PostgresURL:
    """A ``postgresql://`` store URL split into what libpq gets and what omotenashi reads."""

    url: str
    conninfo: str
    schema: str
    artefacts: str | None
    host: str
    port: str
    database: str

    @classmethod
    def parse(cls, url: str) -> PostgresURL:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise StorageError(f"not a PostgreSQL URL: {url!r}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        own = {k: v for k, v in query if k in OWN_OPTIONS}
        rest = [(k, v) for k, v in query if k not in OWN_OPTIONS]
        schema = own.get("schema") or "public"
        if not _NAME.match(schema):
            raise StorageError(
                f"schema must be lower-case letters, digits and _ (got {schema!r} in the URL)"
            )
        conninfo = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(rest)))
        return cls(
            url=url,
            conninfo=conninfo,
            schema=schema,
            artefacts=own.get("artefacts"),
            host=parts.hostname or "localhost",
            port=str(parts.port or 5432),
            database=unquote(parts.path.lstrip("/")) or (parts.username or "postgres"),
        )

    def with_schema(self, schema: str) -> str:
        """The URL of another schema (workspace) in the same database."""
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
        query.append(("schema", schema))
        return urlunsplit(parts._replace(query=urlencode(query)))


def workspace_url(url: str, name: str) -> str:
    """The URL of workspace ``name``: a schema of its own in the database ``url`` names
    (``ws_<name>``; a name with ``-`` or too long for an identifier gets a short digest, so two
    names never share a schema)."""
    schema = "ws_" + name.replace("-", "_")
    if "-" in name or len(schema) > 63:
        digest = hashlib.blake2b(name.encode(), digest_size=4).hexdigest()
        schema = f"{schema[:50]}_{digest}"
    return PostgresURL.parse(url).with_schema(schema)


def redacted(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def run_admin(url: str, sql: str) -> None:
    """Run one statement outside a transaction (``CREATE DATABASE``, ``DROP DATABASE``): for
    test and benchmark harnesses, which keep no driver of their own."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)
    except psycopg.Error as exc:
        raise StorageError(f"PostgreSQL: {str(exc).strip()}") from exc


def lock_key(*names: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``names`` (locks are per database)."""
    digest = hashlib.blake2b(":".join(("omotenashi", *names)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def typed_column(values: Iterable[Any], kind: str) -> list[Any]:
    """One column of rows as an array of ``kind`` (``float8``, ``int8``, else text)."""
    if kind == "float8":
        return [None if v is None else float(v) for v in values]
    if kind == "int8":
        return [None if v is None else int(v) for v in values]
    return [None if v is None else str(v) for v in values]


class PostgresDialect(Dialect):
    """``%s`` marks, ``= ANY(array)`` for lists, ``unnest`` of arrays for many rows."""

    mark = "%s"

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(%s::text[])", [list(values)]

    def rows_source(self, types: Sequence[str]) -> str:
        return "SELECT * FROM unnest(" + ", ".join(f"%s::{t}[]" for t in types) + ")"


class Database(Transactions):
    """A connection with omotenashi's transaction rules (see the module docstring).

    Statements outside :meth:`transaction` commit on their own (autocommit). ``transaction`` is
    re-entrant: an inner one joins the outer one; a rollback runs the hooks registered with
    :meth:`on_rollback` (e.g. withdrawing published ``seq`` spans).
    """

    dialect: Dialect = PostgresDialect()

    def __init__(self, target: PostgresURL, *, create: bool) -> None:
        self.target = target
        self._closed = False
        self.conn = self._connect()
        self._init_transactions()
        try:
            self._create_schema(create)
        except BaseException:
            self.conn.close()
            raise

    def _connect(self) -> psycopg.Connection[Any]:
        target = self.target
        try:
            conn = psycopg.connect(
                target.conninfo,
                autocommit=True,
                options=f"-c search_path={target.schema}",
            )
        except psycopg.Error as exc:
            raise StorageError(
                f"cannot connect to PostgreSQL at {target.host}:{target.port}/{target.database}: "
                f"{str(exc).strip()}"
            ) from exc
        for kind in (np.int64, np.int32, np.int16, np.uint32):
            conn.adapters.register_dumper(kind, Int8Dumper)
        for kind in (np.float32,):
            conn.adapters.register_dumper(kind, FloatDumper)
        return conn

    def _usable(self) -> psycopg.Connection[Any]:
        """The connection; outside a transaction a broken one (server restarted, connection
        killed) is replaced first, so a long-running service recovers by itself. Inside a
        transaction the failure stands: the transaction is lost and rolls back."""
        if self._closed:
            raise StorageError("the store is closed")
        if not self.depth and (self.conn.broken or self.conn.closed):
            self.conn = self._connect()
        return self.conn

    # -- schema ----------------------------------------------------------------------------
    def _create_schema(self, create: bool) -> None:
        """Create the schema and tables of a new store; an existing one of this version is only
        read (no lock), so opening it never waits for another handle's write."""
        row = self.read("SELECT to_regclass('meta') IS NOT NULL")[0]
        if row[0]:
            version = self.read("SELECT value FROM meta WHERE key = 'schema'")
            if version and int(version[0][0]) == SCHEMA_VERSION:
                return
        elif not create:
            raise NotFound(
                f"no store in schema {self.target.schema!r} of database "
                f"{self.target.database!r}: run `omotenashi init` or import data first"
            )
        with self.transaction():
            # several processes may open a new store at once: one creates, the others wait
            self.execute(
                "SELECT pg_advisory_xact_lock(%s)", (lock_key("schema", self.target.schema),)
            )
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.target.schema}")
            for statement in STORE_DDL:
                self.execute(statement)
            version = self.read("SELECT value FROM meta WHERE key = 'schema'")
            if not version:
                self.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', %s), ('latest_ts', '-1')",
                    (str(SCHEMA_VERSION),),
                )
            elif int(version[0][0]) > SCHEMA_VERSION:
                raise StorageError(
                    f"the store has schema {version[0][0]}, newer than this omotenashi "
                    f"({SCHEMA_VERSION}); upgrade omotenashi"
                )
            elif int(version[0][0]) < SCHEMA_VERSION:  # the tables it lacked exist now
                self.execute(
                    "UPDATE meta SET value = %s WHERE key = 'schema'", (str(SCHEMA_VERSION),)
                )

    # -- statements ------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        with self.lock:
            try:
                return self._usable().execute(sql, params)
            except psycopg.Error as exc:
                raise self._error(exc) from exc

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` for each row (pipelined); returns the rows affected."""
        if not rows:
            return 0
        with self.lock:
            try:
                with self._usable().cursor() as cursor:
                    cursor.executemany(sql, rows)
                    return max(cursor.rowcount, 0)
            except psycopg.Error as exc:
                raise self._error(exc) from exc

    def read(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.lock:
            try:
                return self._usable().execute(sql, params).fetchall()
            except psycopg.OperationalError as exc:
                if self.depth or not self.conn.broken:
                    raise self._error(exc) from exc
            except psycopg.Error as exc:
                raise self._error(exc) from exc
            try:  # the connection was lost between statements: a read is safe to repeat
                return self._usable().execute(sql, params).fetchall()
            except psycopg.Error as exc:
                raise self._error(exc) from exc

    def read_arrow(self, sql: str, params: Sequence[Any], schema: pa.Schema) -> pa.Table:
        """A large read (a training's events) as Arrow columns of ``schema``.

        Why: fetching rows makes a Python object of every value; ``COPY ... TO STDOUT`` in CSV
        is read by Arrow's C++ CSV reader instead (typed by ``schema``, NULL as an empty
        unquoted field), through a temporary file so the text is never held in memory whole.
        """
        import tempfile

        import pyarrow.csv as csv

        with tempfile.TemporaryFile(prefix="omotenashi-read-") as buffer:
            with self.lock:
                try:
                    with (
                        self._usable().cursor() as cursor,
                        cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy,
                    ):
                        for chunk in copy:
                            buffer.write(chunk)
                except psycopg.Error as exc:
                    raise self._error(exc) from exc
            buffer.seek(0)
            return csv.read_csv(
                buffer,
                read_options=csv.ReadOptions(column_names=schema.names, block_size=1 << 24),
                convert_options=csv.ConvertOptions(
                    column_types=schema,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            ).cast(schema)

    def _error(self, exc: psycopg.Error) -> StorageError:
        return StorageError(f"PostgreSQL: {str(exc).strip()}")

    def write_rows(self, sql: str, rows: Sequence[Sequence[Any]], types: Sequence[str]) -> int:
        """One statement over ``unnest`` of one typed array per column; the rows changed."""
        if not rows:
            return 0
        columns = zip(*rows, strict=True)
        arrays = [typed_column(values, kind) for values, kind in zip(columns, types, strict=True)]
        return max(self.execute(sql, arrays).rowcount, 0)

    # -- the transaction (see ``storage._transaction``) ----------------------------------------
    def _begin(self) -> None:
        try:
            self._usable().execute("BEGIN")
        except psycopg.Error as exc:
            raise self._error(exc) from exc

    def _commit(self) -> None:
        try:
            self.conn.execute("COMMIT")
        except psycopg.Error as exc:
            self._withdraw()
            raise self._error(exc) from exc

    def _rollback(self) -> None:
        try:
            self.conn.execute("ROLLBACK")
        except psycopg.Error:
            pass  # the connection is gone: the server rolled back

    def close(self) -> None:
        with self.lock:
            self._closed = True
            self.conn.close()
