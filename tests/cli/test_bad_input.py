"""No traceback ever reaches a user: every CLI command, driven with bad input, exits with code
2 and prints one line on stderr that names what is wrong.

The commands are found by walking the command tree, and the bad inputs are derived from each
command's parameters: an unknown option; a word for every number option; a missing, an empty,
a malformed and a binary file for every input file (paths, ``--logs``); a store that does not
exist for
``--db``. A command added to the CLI without a valid invocation in ``BASE`` fails
``test_every_command_has_a_base_invocation``, so it cannot escape the check. ``EXTRA`` adds the
bad values only a command knows (an unknown customer, an unknown model, a bad rule ...).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from omotenashi import Omotenashi

from .conftest import command_tree, leaf_commands, run_cli

MAP = "customer=customer,anonymous=anon,item=item,time=time,order=order,quantity=qty,price=price"
TX_MAP = "customer=customer,time=time,value=price,order=order"
LOG_MAPS = ["--map", "action=arm", "--map", "reward=clicked", "--map", "pscore=p"]

#: A valid invocation of each command, with placeholders for the files of ``world``.
BASE: dict[str, list[str]] = {
    "access-log": ["--db", "{db}"],
    "encryption fields": ["email", "--db", "{db}"],
    "encryption new-key": [],
    "encryption rotate": ["--db", "{db}"],
    "encryption status": ["--db", "{db}"],
    "alias": ["c1", "device-9", "--db", "{db}"],
    "consent import": ["{consent}", "--db", "{db}"],
    "consent model": ["--db", "{db}"],
    "consent purposes": ["--db", "{db}"],
    "consent set": ["c1", "--withdraw", "marketing", "--db", "{db}"],
    "consent show": ["c1", "--db", "{db}"],
    "consent without": ["marketing", "--db", "{db}"],
    "audit": ["--db", "{db}"],
    "bundle": ["c1", "--catalog", "sample:cafe", "--db", "{db}"],
    "concierge assign": ["--agent", "ann=2", "--dry-run", "--db", "{db}"],
    "concierge brief": ["c1", "--db", "{db}"],
    "concierge kpis": ["--db", "{db}"],
    "customers": ["--db", "{db}"],
    "decide simulate": ["--rounds", "100"],
    "decide train": ["--logs", "{logs}", "--out", "{out}", *LOG_MAPS],
    "demo": ["--db", "{demo}"],
    "evaluate messages": ["--rounds", "200"],
    "evaluate ope": ["--logs", "{logs}", "--policy", "uniform", *LOG_MAPS],
    "export-events": ["{out}", "--db", "{db}"],
    "evaluate sessions": [
        "--train", "{clicks}", "--test", "{clicks}",
        "--map", "session=session,item=item,time=time", "--no-peers",
    ],
    "erase": ["nobody-42", "--yes", "--db", "{db}"],
    "evaluate topn": [
        "--data", "{ratings}", "--map", "user=user,item=item,rating=rating,time=time",
        "--no-peers",
    ],
    "export": ["c1", "--db", "{db}"],
    "goals add": ["c1", "--name", "walks", "--type", "purchase", "--db", "{db}"],
    "goals reminders": ["--db", "{db}"],
    "goals status": ["--db", "{db}"],
    "identify": ["c1", "--anonymous", "device-8", "--db", "{db}"],
    "import": ["{events}", "--map", MAP, "--db", "{db}"],
    "import-customers": ["{people}", "--map", "customer=id", "--db", "{db}"],
    "import-items": ["{items}", "--map", "item=item,title=title", "--db", "{db}"],
    "init": ["--db", "{db}"],
    "keys create": ["--workspace", "w", "--scope", "read", "--db", "{db}"],
    "keys list": ["--db", "{db}"],
    "keys revoke": ["{key}", "--db", "{db}"],
    "merge": ["c1", "c2", "--db", "{db}"],
    "message": ["c1", "--topic", "tea", "--db", "{db}"],
    "plan": ["c1", "--catalog", "sample:travel", "--start", "2026-04-06", "--days", "2",
             "--budget", "400", "--db", "{db}"],
    "preferences set": ["c1", "--level", "light", "--db", "{db}"],
    "preferences show": ["c1", "--db", "{db}"],
    "nba": ["c1", "--reminders", "{reminders}", "--db", "{db}"],
    "outreach actions": ["{actions}", "--db", "{db}"],
    "outreach approve": ["--date", "2026-06-01", "--db", "{db}"],
    "outreach export": ["--out", "{out}", "--date", "2026-06-01", "--db", "{db}"],
    "outreach list": ["--db", "{db}"],
    "outreach preview": ["--date", "2026-06-01", "--reminders", "{reminders}", "--db", "{db}"],
    "outreach record": ["--file", "{results}", "--db", "{db}"],
    "outreach run": ["--date", "2026-06-01", "--reminders", "{reminders}", "--db", "{db}"],
    "outreach skip": ["--date", "2026-06-01", "--db", "{db}"],
    "presets": [],
    "profile": ["c1", "--db", "{db}"],
    "recalls": ["--db", "{db}"],
    "care score": ["--db", "{db}"],
    "recommend": ["c1", "--db", "{db}"],
    "segments": ["-t", "{tx}", "--map", TX_MAP, "--kmeans", "0"],
    "serve": ["--no-train-on-start"],
    "similar": ["i1", "--db", "{db}"],
    "spark-train": ["{clicks}", "--db", "{db}"],
    "stats": ["--db", "{db}"],
    "timeline": ["c1", "--db", "{db}"],
    "track": ['{"customer_id": "c1", "type": "view", "item_id": "i1"}', "--db", "{db}"],
    "train": ["--model", "itemknn", "--db", "{db}"],
    "value fit": ["-t", "{tx}", "--map", TX_MAP],
    "value lapse": ["-t", "{tx}", "--map", TX_MAP],
    "value report": ["-t", "{tx}", "--map", TX_MAP],
}  # fmt: skip

#: Commands that read the store instead of a file when no file is given (their --db case).
STORE_BASE: dict[str, list[str]] = {
    "access-log": ["--db", "{db}"],
    "encryption fields": ["email", "--db", "{db}"],
    "encryption new-key": [],
    "encryption rotate": ["--db", "{db}"],
    "encryption status": ["--db", "{db}"],
    "segments": ["--kmeans", "0"],
    "value fit": [],
    "value lapse": [],
    "value report": [],
}

#: Commands for which a store that does not exist is not an error, and why.
NEW_STORE_OK = {
    "serve": "the service creates the stores of its workspaces",
    "keys create": "API keys live in a key store of their own, created on first use",
    "keys list": "API keys live in a key store of their own, created on first use",
    "keys revoke": "API keys live in a key store of their own; the key is what is unknown",
}

#: Output paths (written, not read): no missing-file case.
OUTPUTS = {"out", "rejects", "plots", "output", "html", "directory", "csv_out"}

#: Bad values only a command knows: (command, args replacing its base, text the error names).
EXTRA: list[tuple[str, list[str], str]] = [
    ("access-log", ["--since", "someday", "--db", "{db}"], "someday"),
    ("encryption fields", [" ", "--db", "{db}"], "attribute"),
    ("encryption rotate", ["--db", "{db}"], "OMOTENASHI_ENCRYPTION_KEYS"),
    ("profile", ["nobody-42", "--db", "{db}"], "nobody-42"),
    ("profile", ["c1", "--as-of", "someday", "--db", "{db}"], "someday"),
    ("timeline", ["nobody-42", "--db", "{db}"], "nobody-42"),
    ("export", ["nobody-42", "--db", "{db}"], "nobody-42"),
    ("export", ["c1", "--output", "{bad}", "--db", "{db}"], "folder"),
    ("erase", ["nobody-42", "--yes", "--db", "{db}"], "nobody-42"),
    ("erase", ["c1", "--db", "{db}"], "--yes"),
    ("timeline", ["c1", "--cursor", "garbage", "--db", "{db}"], "cursor"),
    ("merge", ["c1", "nobody-42", "--db", "{db}"], "nobody-42"),
    ("similar", ["no-such-item", "--db", "{db}"], "no-such-item"),
    ("spark-train", ["{out}", "--conf", "nokey", "--db", "{db}"], "--conf"),
    ("serve", ["--no-train-on-start", "--log-format", "yaml"], "--log-format"),
    ("serve", ["--no-train-on-start", "--loop", "trio"], "--loop"),
    ("spark-train", ["{out}", "--db", "{db}"], "export-events"),
    ("keys revoke", ["k-unknown", "--db", "{db}"], "k-unknown"),
    ("customers", ["--by", "charm", "--db", "{db}"], "charm"),
    ("customers", ["--as-of", "someday", "--db", "{db}"], "someday"),
    ("customers", ["--top", "-3", "--db", "{db}"], "top"),
    ("train", ["--model", "crystal-ball", "--db", "{db}"], "crystal-ball"),
    ("train", ["--weights", "view=lots", "--db", "{db}"], "lots"),
    ("recommend", ["--db", "{db}"], "CUSTOMER"),
    ("recommend", ["c1", "--model", "crystal-ball", "--db", "{db}"], "crystal-ball"),
    ("recommend", ["c1", "--diversity", "2", "--db", "{db}"], "--diversity"),
    ("recommend", ["--session", ",", "--db", "{db}"], "session"),
    ("track", ["{\"customer_id\": \"c1\"", "--db", "{db}"], "JSON"),
    ("track", ['{"type": "view", "timestamp": "2024-01-01T00:00:00Z"}', "--db", "{db}"],
     "customer_id"),
    ("track", ['{"customer_id": "c1", "type": "view"}', "--db", "{db}"], "timestamp"),
    ("track", ['{"customer_id": "c1", "type": "view", "timestamp": "9999-12-31"}',
               "--db", "{db}"], "timestamp"),
    ("identify", ["", "--anonymous", "x", "--db", "{db}"], "customer"),
    ("import", ["{events}", "--map", "customer=nope", "--db", "{db}"], "nope"),
    ("import", ["{events}", "--map", "customer", "--db", "{db}"], "customer"),
    ("import", ["{events}", "--preset", "nope", "--db", "{db}"], "nope"),
    ("import", ["{events}", "--map", MAP, "--encoding", "klingon", "--db", "{db}"], "klingon"),
    ("import", ["{events}", "--map", MAP, "--decimal", ";", "--db", "{db}"], "decimal"),
    ("import", ["{latin1}", "--map", MAP, "--db", "{db}"], "--encoding"),
    ("import-items", ["{items}", "--map", "title=title", "--db", "{db}"], "item"),
    ("import-customers", ["{people}", "--map", "customer=nope", "--db", "{db}"], "nope"),
    ("evaluate topn", ["--data", "{ratings}", "--map", "user=nope,item=item"], "nope"),
    ("evaluate topn", ["--data", "{ratings}", "--map", "user=user,item=item", "--models",
                       "crystal-ball", "--no-peers"], "crystal-ball"),
    ("evaluate sessions", ["--map", "session=session,item=item,time=time"], "--data"),
    ("evaluate ope", ["--logs", "{logs}", "--policy", "nope.npz", *LOG_MAPS], "nope.npz"),
    ("evaluate ope", ["--logs", "{logs}", "--policy", "uniform", "--estimators", "guess",
                      *LOG_MAPS], "guess"),
    ("evaluate ope", ["--logs", "{logs}", "--policy", "uniform"], "map"),
    ("evaluate ope", ["--logs", "{logs}", "--policy", "uniform", "--map", "action=nope",
                      "--map", "reward=clicked", "--map", "pscore=p"], "nope"),
    ("decide train", ["--logs", "{logs}", "--out", "{out}", "--params", "{oops",
                      *LOG_MAPS], "--params"),
    ("decide train", ["--logs", "{logs}", "--out", "{out}", "--policy", "oracle",
                      *LOG_MAPS], "oracle"),
    ("decide simulate", ["--policies", "oracle", "--rounds", "100"], "oracle"),
    ("value report", ["-t", "{tx}", "--map", TX_MAP, "--model", "crystal-ball"], "crystal-ball"),
    ("value fit", ["-t", "{tx}", "--map", TX_MAP, "--freq", "fortnight"], "fortnight"),
    ("value fit", ["-t", "{tx}"], "--map"),
    ("value fit", ["-t", "{tx}", "--map", "customer=nope,time=time"], "nope"),
    ("value lapse", ["-t", "{tx}", "--map", TX_MAP, "--kind", "dream"], "dream"),
    ("value lapse", ["-t", "{tx}", "--map", TX_MAP, "--negative", "maybe"], "maybe"),
    ("value report", ["-t", "{tx}", "--map", TX_MAP, "--as-of", "someday"], "someday"),
    ("segments", ["-t", "{tx}", "--map", TX_MAP, "--rule", "vip monetary > 10"], "vip"),
    ("segments", ["-t", "{tx}", "--map", TX_MAP, "--rule", "vip: __import__('os')"],
     "__import__"),
    ("segments", ["-t", "{tx}", "--map", TX_MAP, "--features", "charm"], "charm"),
    ("serve", ["--port", "0", "--no-train-on-start"], "--port"),
    ("audit", ["--by", "charm", "--db", "{db}"], "charm"),
    ("consent set", ["c1", "--grant", "telepathy", "--db", "{db}"], "telepathy"),
    ("consent set", ["c1", "--db", "{db}"], "--grant"),
    ("consent model", ["maybe", "--db", "{db}"], "maybe"),
    ("consent without", ["telepathy", "--db", "{db}"], "telepathy"),
    ("consent purposes", ["--add", "Bad Name", "--db", "{db}"], "Bad Name"),
    ("consent import", ["{bad_consent}", "--db", "{db}"], "line 3, field 'granted'"),
    ("preferences set", ["c1", "--level", "max", "--db", "{db}"], "level"),
    ("preferences set", ["c1", "--quiet-hours", "22", "--db", "{db}"], "--quiet-hours"),
    ("preferences set", ["c1", "--channel", "email", "--db", "{db}"], "--channel"),
    ("preferences set", ["c1", "--time-zone", "Mars/Olympus", "--db", "{db}"], "time_zone"),
    ("audit", ["--max-gini", "lots", "--db", "{db}"], "--max-gini"),
    ("audit", ["--max-gap", "coverage", "--db", "{db}"], "coverage"),
    ("bundle", ["nobody-42", "--catalog", "sample:cafe", "--db", "{db}"], "nobody-42"),
    ("bundle", ["c1", "--catalog", "{missing}", "--db", "{db}"], "absent.csv"),
    ("bundle", ["c1", "--catalog", "{events}", "--db", "{db}"], "not JSON"),
    ("bundle", ["c1", "--catalog", "sample:tea", "--db", "{db}"], "sample:tea"),
    ("bundle", ["c1", "--catalog", "sample:cafe", "--budget", "1", "--db", "{db}"], "budget"),
    ("plan", ["c1", "--catalog", "sample:travel", "--start", "someday", "--days", "2",
              "--budget", "400", "--db", "{db}"], "someday"),
    ("plan", ["c1", "--catalog", "sample:travel", "--start", "2026-04-06", "--days", "2",
              "--budget", "400", "--pace", "frantic", "--db", "{db}"], "pace"),
    ("message", ["c1", "--topic", "tea", "--channel", "fax", "--db", "{db}"], "fax"),
    ("nba", ["nobody-42", "--db", "{db}"], "nobody-42"),
    ("nba", ["c1", "--date", "someday", "--db", "{db}"], "someday"),
    ("outreach run", ["--date", "someday", "--db", "{db}"], "someday"),
    ("outreach list", ["--status", "lost", "--db", "{db}"], "lost"),
    ("outreach record", ["nope-7", "--status", "sent", "--db", "{db}"], "nope-7"),
    ("outreach record", ["--db", "{db}"], "contact"),
    ("outreach approve", ["--db", "{db}"], "date"),
    ("recalls", ["--as-of", "someday", "--db", "{db}"], "someday"),
    ("care score", ["--as-of", "someday", "--db", "{db}"], "someday"),
    ("goals add", ["c1", "--name", "w", "--type", "purchase", "--filter", "__import__('os')",
                   "--db", "{db}"], "__import__"),
    ("goals add", ["c1", "--name", "w", "--type", "purchase", "--target", "0", "--db", "{db}"],
     "target"),
    ("concierge assign", ["--agent", "ann", "--db", "{db}"], "ann"),
    ("concierge assign", ["--agent", "ann=1", "--rule", "x: nope > 1", "--db", "{db}"], "nope"),
    ("concierge brief", ["nobody-42", "--db", "{db}"], "nobody-42"),
]  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A store with events and a trained model, and a good file of every kind."""
    folder = tmp_path_factory.mktemp("world")
    rng = random.Random(11)
    events = ["customer,anon,item,time,order,qty,price"]
    for n in range(300):
        customer = f"c{rng.randint(1, 30)}"
        events.append(
            f"{customer},,i{rng.randint(1, 20)},2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
            f"T10:00:00Z,o{n // 2},{rng.randint(1, 3)},{rng.randint(1, 90)}.5"
        )
    files = {
        "events": "\n".join(events),
        "items": "item,title\ni1,Tea\ni2,Coffee",
        "people": "id,country\nc1,JP\nc2,FR",
        "tx": "\n".join(events),
        "ratings": "user,item,rating,time\n"
        + "\n".join(
            f"u{u},i{i},{1 + (u * i) % 5},{1_600_000_000 + u * 50 + i}"
            for u in range(20)
            for i in range(12)
        ),  # fmt: skip
        "clicks": "session,item,time\n"
        + "\n".join(f"s{s},i{(s + k) % 7},{s * 10 + k}" for s in range(30) for k in range(3)),
        "logs": "arm,clicked,p\n" + "\n".join(f"a{n % 3},{n % 2},0.3333" for n in range(60)),
        "consent": "customer_id,purpose,granted\nc1,marketing,no\nc2,analytics,yes",
        "bad_consent": "customer_id,purpose,granted\nc1,marketing,no\nc2,analytics,perhaps",
        "actions": '[{"id": "tip", "kind": "recommend", "channel": "email"}]',
        "reminders": "customer_id,topic,rule,due,reason,priority\nc1,recall,r,2026-05-01,due,5",
        "results": "contact_id,status\nno-such-contact,sent",
    }
    paths = {}
    for name, text in files.items():
        path = folder / f"{name}.csv"
        path.write_text(text + "\n", encoding="utf-8")
        paths[name] = str(path)
    latin1 = folder / "latin1.csv"
    latin1.write_bytes(
        (files["events"].replace("i1,", "café,", 1) + "\n").replace(",,", ",,", 1).encode("latin-1")
    )
    paths["latin1"] = str(latin1)
    db = folder / "store.db"
    with Omotenashi(str(db)) as om:
        om.import_events(paths["events"], mapping=MAP)
        om.upsert_customers([{"customer_id": "c1", "attributes": {"birthdate": "1980-05-01"}}])
        om.training.train("itemknn", session_model=False)
    paths["db"] = str(db)
    paths["demo"] = str(folder / "demo.db")
    paths["out"] = str(folder / "learner.npz")
    paths["key"] = "k-unknown"
    bad = folder / "bad"
    bad.mkdir()
    (bad / "empty.csv").write_bytes(b"")
    (bad / "broken.csv").write_text('customer,item,time\nc1,"i1,2024-01-01\n', encoding="utf-8")
    (bad / "binary.csv").write_bytes(bytes(range(256)) * 4)  # not text in any encoding's sense
    paths["bad"] = str(bad)
    paths["binary"] = str(bad / "binary.csv")
    paths["missing"] = str(bad / "absent.csv")
    paths["empty"] = str(bad / "empty.csv")
    paths["broken"] = str(bad / "broken.csv")
    paths["nostore"] = str(folder / "no-such-folder" / "none.db")
    return paths


def _fill(args: list[str], world: dict[str, str]) -> list[str]:
    out = []
    for arg in args:
        if arg.startswith("{") and arg.endswith("}") and arg[1:-1] in world:
            out.append(world[arg[1:-1]])
        else:
            out.append(arg)
    return out


def _params(path: str) -> list:
    for found, command in command_tree():
        if " ".join(found) == path:
            return [p for p in command.params if p.name != "help"]
    raise KeyError(path)


def _long_option(param) -> str:
    return max(param.opts, key=len)


def _with_value(args: list[str], option: str, value: str) -> list[str]:
    """``args`` with ``option``'s value replaced (or the option added)."""
    if option in args:
        at = args.index(option)
        return [*args[: at + 1], value, *args[at + 2 :]]
    return [*args, option, value]


def _cases() -> list[tuple[str, str, list[str], str]]:
    """(command, case, args with placeholders, text the error must name)."""
    cases = []
    for path in (" ".join(p) for p in leaf_commands()):
        base = BASE.get(path)
        if base is None:
            continue  # test_every_command_has_a_base_invocation fails instead
        cases.append((path, "unknown option", [*base, "--no-such-option"], "--no-such-option"))
        for param in _params(path):
            annotation = param.type_descriptor.annotation
            if param.param_type_name == "option" and annotation in (int, float):
                option = _long_option(param)
                bad = _with_value(base, option, "many")
                cases.append((path, f"{option} many", bad, option))
            is_file = (annotation is Path and param.name not in OUTPUTS) or param.name == "logs"
            if not is_file:
                continue
            for kind, name in (("missing", "absent.csv"), ("empty", "empty.csv"),
                               ("broken", "broken.csv"), ("binary", "binary.csv")):  # fmt: skip
                if param.param_type_name == "argument":
                    bad = ["{" + kind + "}", *base[1:]]
                    label = f"{param.name} {kind}"
                else:
                    bad = _with_value(base, _long_option(param), "{" + kind + "}")
                    label = f"{_long_option(param)} {kind}"
                cases.append((path, label, bad, name))
            # fmt: skip
        if any(p.name == "db" for p in _params(path)) and path not in NEW_STORE_OK:
            bad = _with_value(STORE_BASE.get(path, base), "--db", "{nostore}")
            cases.append((path, "store does not exist", bad, "none.db"))
    for path, args, names in EXTRA:
        cases.append((path, f"names {names}", args, names))
    return cases


CASES = _cases()


def test_every_command_has_a_base_invocation() -> None:
    """A new command must be added to BASE, and so to the bad-input cases."""
    commands = {" ".join(p) for p in leaf_commands()}
    assert commands - set(BASE) == set(), "add a valid invocation of these commands to BASE"
    assert set(BASE) - commands == set()
    covered = {case[0] for case in CASES}
    assert covered == commands


@pytest.mark.parametrize(
    ("command", "case", "args", "names"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES]
)
def test_bad_input_gives_one_line_and_exit_code_2(
    world: dict[str, str], command: str, case: str, args: list[str], names: str
) -> None:
    ran = run_cli(*command.split(), *_fill(args, world))
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert "Traceback" not in ran.output, ran.output
    assert ran.code == 2, f"exit {ran.code}: {ran.output}"
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert names.lower() in lines[0].lower(), lines[0]
    assert ran.stdout == "", ran.stdout
