"""Service CLI: ``serve`` runs the HTTP API; ``keys create|list|revoke`` manages API keys.

Commands parse options and call the services (settings, keys); ``serve`` starts uvicorn on
``omotenashi.api``. Keys are printed once, at creation.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.table import Table

from omotenashi.cli._apps import app
from omotenashi.cli._common import DbOpt, JsonOpt, console, emit_json, err_console

PANEL = "Service"
#: Seconds a worker process may take to answer its supervisor's ping (see ``serve``).
WORKER_HEALTHCHECK_S = 30

keys_app = typer.Typer(
    help="API keys of the HTTP service: one workspace and scopes (ingest, read, admin) each.",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys", rich_help_panel=PANEL)


def _settings(db: str | None, **values: object):
    from omotenashi.services import ServiceSettings

    data = {k: v for k, v in values.items() if v is not None}
    if db is not None:
        data["db"] = db
    return ServiceSettings(**data)


@app.command(rich_help_panel=PANEL)
def serve(
    db: DbOpt = None,
    host: Annotated[
        str, typer.Option(help="Interface to listen on.", envvar="OMOTENASHI_HOST")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="TCP port.", min=1, max=65535, envvar="OMOTENASHI_PORT")
    ] = 8000,
    workers: Annotated[
        int,
        typer.Option(help="Worker processes (one per core).", min=1, envvar="OMOTENASHI_WORKERS"),
    ] = 1,
    no_auth: Annotated[
        bool,
        typer.Option(
            "--no-auth",
            help="No API keys: everything acts on the default workspace (dev only).",
            envvar="OMOTENASHI_NO_AUTH",
        ),
    ] = False,
    retrain_after: Annotated[
        int | None, typer.Option(help="Retrain in the background after N new events (0: off).")
    ] = None,
    retrain_every: Annotated[
        float | None, typer.Option(help="Also retrain every S seconds when events arrived.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model of the first training (default: chosen on data).")
    ] = None,
    no_train_on_start: Annotated[
        bool, typer.Option("--no-train-on-start", help="Do not train at start-up.")
    ] = False,
    max_body: Annotated[
        int | None, typer.Option(help="Largest request body in bytes (413 above).")
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="Log level: debug, info, warning.", envvar="OMOTENASHI_LOG_LEVEL")
    ] = "warning",
    log_format: Annotated[
        str,
        typer.Option(
            help="Logs as text or json (one object a line).", envvar="OMOTENASHI_LOG_FORMAT"
        ),
    ] = "text",
    graceful_s: Annotated[
        int,
        typer.Option(
            help="On SIGTERM, seconds to finish requests in flight.",
            min=1,
            envvar="OMOTENASHI_GRACEFUL_S",
        ),
    ] = 30,
    rate_limit: Annotated[
        float | None,
        typer.Option(help="Requests a second per API key (429 above; 0: off; default 1000)."),
    ] = None,
    rate_burst: Annotated[
        int | None, typer.Option(help="Requests a key may send at once (default 2000).", min=1)
    ] = None,
    no_access_log: Annotated[
        bool,
        typer.Option("--no-access-log", help="Do not record who read whose data (measuring)."),
    ] = False,
    loop: Annotated[
        str,
        typer.Option(
            help="Event loop: auto (Python's own while model work may run on the loop, as it "
            "does by default on an embedded store; else uvloop when installed), uvloop or asyncio.",
            envvar="OMOTENASHI_LOOP",
        ),
    ] = "auto",
) -> None:
    """Run the HTTP API (OpenAPI at /openapi.json, docs at /docs).

    The --db store is workspace [bold]default[/]; other workspaces live beside it and are
    reached with their own API keys ([bold]omotenashi keys create --workspace W --scope read[/]).
    """
    import logging.config

    import uvicorn

    from omotenashi.api import LOG_FORMATS, log_config
    from omotenashi.services import SETTINGS_ENV

    if log_format not in LOG_FORMATS:
        raise typer.BadParameter(
            f"{log_format!r} is not one of {', '.join(LOG_FORMATS)}", param_hint="--log-format"
        )

    settings = _settings(
        db,
        auth=not no_auth,
        retrain_after_events=retrain_after,
        retrain_every_s=retrain_every,
        model=model,
        train_on_start=not no_train_on_start,
        max_body_bytes=max_body,
        rate_limit_per_s=rate_limit,
        rate_limit_burst=rate_burst,
        access_log=not no_access_log,
    )
    settings.check_db()  # a clear error for memory:// before uvicorn starts
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    loop, http = _fast_io(loop, settings.on_server())
    banner = (
        f"omotenashi serving {settings.db_label()} on http://{host}:{port} "
        f"({workers} worker{'s' if workers > 1 else ''}, keys "
        f"{'required' if settings.auth else 'OFF'}, {loop} + {http}); docs at /docs"
    )
    if log_format == "json":
        # a log collector reads every line as one JSON object, this one included
        logging.config.dictConfig(log_config(log_format, log_level))
        logging.getLogger("omotenashi.cli").info(banner)
    else:
        err_console.print(banner, highlight=False)
    uvicorn.run(
        "omotenashi.api:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=log_config(log_format, log_level),
        loop=loop,
        http=http,
        access_log=False,
        # on SIGTERM: stop accepting, finish the requests in flight (each event acknowledged
        # only after its commit), then close the workspaces (the event writer drains)
        timeout_graceful_shutdown=graceful_s,
        # with --workers > 1 uvicorn pings each worker and kills one that does not answer in
        # time; a new worker answers only once its logging is configured, which imports the
        # API and its numeric libraries (seconds, more on a busy or CPU-limited host): at
        # uvicorn's default (5 s) the workers of a loaded container were killed and restarted
        # in a loop and never served
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
    )


LOOPS = ("auto", "uvloop", "asyncio")


def _fast_io(loop: str = "auto", on_server: bool = False) -> tuple[str, str]:
    """The event loop (``auto``: :func:`omotenashi.api.auto_loop` for a store on a database
    server or not, uvloop only when installed) and httptools when installed
    (``uvicorn[standard]``), else h11."""
    from importlib.util import find_spec

    from omotenashi.api import auto_loop

    if loop not in LOOPS:
        raise typer.BadParameter(f"{loop!r} is not one of {', '.join(LOOPS)}", param_hint="--loop")
    if loop == "uvloop" and not find_spec("uvloop"):
        raise typer.BadParameter("uvloop is not installed", param_hint="--loop")
    if loop == "auto":
        loop = auto_loop(on_server)
        if loop == "uvloop" and not find_spec("uvloop"):
            loop = "asyncio"
    return loop, "httptools" if find_spec("httptools") else "h11"


def _key_store(db: str | None):
    from omotenashi.services import key_store

    return key_store(_settings(db))


@keys_app.command("create")
def keys_create(
    workspace: Annotated[str, typer.Option(help="Workspace the key opens (created on use).")],
    scope: Annotated[list[str], typer.Option(help="ingest, read or admin (repeat for several).")],
    label: Annotated[str | None, typer.Option(help="A note: who or what uses the key.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a key; its token is printed once and only its hash is stored."""
    scopes = [s for value in scope for s in value.split(",")]
    created = _key_store(db).create(workspace, scopes, label=label)
    if json_out:
        emit_json({**created.info.as_dict(), "token": created.token})
        return
    console.print(
        f"key [bold]{created.info.key_id}[/] for workspace [bold]{workspace}[/], scopes "
        f"{', '.join(created.info.scopes)}. Token (shown once, keep it secret):"
    )
    console.print(created.token, highlight=False, soft_wrap=True)


@keys_app.command("list")
def keys_list(
    workspace: Annotated[str | None, typer.Option(help="Only this workspace.")] = None,
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List keys (ids, workspaces, scopes; never the tokens)."""
    keys = _key_store(db).list(workspace)
    if json_out:
        emit_json([k.as_dict() for k in keys])
        return
    table = Table("key id", "workspace", "scopes", "label", "state")
    for k in keys:
        state = "revoked" if k.revoked_at else "active"
        table.add_row(k.key_id, k.workspace, ", ".join(k.scopes), k.label or "", state)
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (from `keys list`).")],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a key: running servers refuse it within seconds."""
    info = _key_store(db).revoke(key_id)
    if json_out:
        emit_json(info.as_dict())
        return
    console.print(f"revoked key [bold]{info.key_id}[/] of workspace {info.workspace}")
