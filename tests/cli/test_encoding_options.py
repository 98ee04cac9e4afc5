"""``--encoding`` and ``--decimal`` on ``evaluate topn/sessions --data`` and ``evaluate ope
--logs`` (and ``decide train --logs``), the same options as the imports: latin-1, Shift-JIS
and decimal-comma files are read as written, and a file in another encoding than the one
given is refused with one line naming the file, the line and the option to use."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from omotenashi.evaluation import read_interactions, read_sessions

from .conftest import run_cli

ITEMS = ["café", "crème", "東京", "抹茶", "ramen", "sushi", "tempura", "udon"]


def _ratings(decimal: str = ".", items: list[str] = ITEMS) -> str:
    """Ratings of 30 users on items whose names are not all ASCII, ``;``-separated."""
    rng = random.Random(5)
    lines = ["user;item;rating;time"]
    for user in range(30):
        for item in rng.sample(items, 6):
            rating = f"{rng.choice([3.5, 4.0, 4.5, 5.0])}".replace(".", decimal)
            lines.append(f"u{user};{item};{rating};{rng.randint(1_600_000_000, 1_700_000_000)}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("encoding", ["latin-1", "shift_jis"])
def test_read_interactions_in_the_files_encoding(tmp_path: Path, encoding: str) -> None:
    names = [n for n in ITEMS if _encodes(n, encoding)]
    text = "user,item,rating,time\n" + "".join(
        f"u{i},{name},4,{1_600_000_000 + i}\n" for i, name in enumerate(names)
    )
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode(encoding))
    frame = read_interactions(path, "user=user,item=item,rating=rating", encoding=encoding)
    assert frame["item_id"].tolist() == names  # the names as written, not mojibake


def _encodes(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def test_utf_8_is_the_default_as_for_imports(tmp_path: Path) -> None:
    """A UTF-8 file is read as UTF-8 without options (it used to be read as latin-1: 東京 came
    out as mojibake, silently)."""
    path = tmp_path / "r.csv"
    path.write_text(_ratings(), encoding="utf-8")
    frame = read_interactions(path, "user=user,item=item,rating=rating")
    assert {"東京", "抹茶", "café"} <= set(frame["item_id"])


def test_read_interactions_with_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(_ratings(","), encoding="utf-8")
    frame = read_interactions(path, "user=user,item=item,rating=rating", decimal=",")
    assert set(frame["rating"]) <= {3.5, 4.0, 4.5, 5.0}
    assert (frame["rating"] == 3.5).any()


def test_evaluate_topn_reads_shift_jis_with_decimal_commas(tmp_path: Path) -> None:
    names = [n for n in ITEMS if _encodes(n, "shift_jis")]
    path = tmp_path / "ratings.csv"
    path.write_bytes(_ratings(",", names).encode("shift_jis"))
    same = tmp_path / "same.csv"
    same.write_text(_ratings(".", names), encoding="utf-8")
    args = ["--map", "user=user,item=item,rating=rating,time=time", "--min-rating", "4"]
    args += ["--no-peers", "--models", "popularity", "--json"]
    ran = run_cli(
        "evaluate", "topn", "--data", str(path), *args, "--encoding", "shift_jis", "--decimal", ","
    )
    assert ran.code == 0, ran.output
    reference = run_cli("evaluate", "topn", "--data", str(same), *args)
    assert reference.code == 0, reference.output
    got, want = json.loads(ran.stdout), json.loads(reference.stdout)
    assert got["ndcg@10"] == want["ndcg@10"] and got["recall@20"] == want["recall@20"]

    refused = run_cli("evaluate", "topn", "--data", str(path), *args)  # read as UTF-8
    assert refused.code == 2
    assert refused.stdout == "" and len(refused.stderr.strip().splitlines()) == 1
    assert "ratings.csv" in refused.stderr and "--encoding" in refused.stderr


def test_evaluate_sessions_reads_latin_1(tmp_path: Path) -> None:
    lines = ["session,item,time"]
    rng = random.Random(1)
    for session in range(40):
        for step in range(3):
            lines.append(f"s{session},{rng.choice(ITEMS[:2] + ITEMS[4:])},{session * 100 + step}")
    path = tmp_path / "clicks.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    frame = read_sessions(path, "session=session,item=item,time=time", encoding="latin-1")
    assert {"café", "crème"} <= set(frame["item_id"])
    ran = run_cli(
        "evaluate", "sessions", "--data", str(path), "--map", "session=session,item=item,time=time",
        "--no-peers", "--models", "sknn", "--encoding", "latin-1", "--json",
    )  # fmt: skip
    assert ran.code == 0, ran.output
    assert json.loads(ran.stdout.splitlines()[0])["model"] == "sknn"


def _logs(decimal: str) -> str:
    rng = random.Random(2)
    lines = ["bras;clic;propension;région"]
    for _ in range(200):
        p = "0,25" if decimal == "," else "0.25"
        lines.append(
            f"{rng.choice(['thé', 'café', 'crème', 'eau'])};{int(rng.random() < 0.3)};{p};x"
        )
    return "\n".join(lines) + "\n"


def test_evaluate_ope_and_decide_train_read_latin_1_logs_with_decimal_commas(
    tmp_path: Path,
) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(_logs(",").encode("latin-1"))
    same = tmp_path / "same.csv"
    same.write_text(_logs("."), encoding="utf-8")
    maps = ["--map", "action=bras", "--map", "reward=clic", "--map", "pscore=propension"]
    base = ["evaluate", "ope", "--policy", "uniform", "--n-bootstrap", "20", *maps, "--json"]
    ran = run_cli(*base, "--logs", str(path), "--encoding", "latin-1", "--decimal", ",")
    assert ran.code == 0, ran.output
    reference = run_cli(*base, "--logs", str(same))
    assert reference.code == 0, reference.output
    got = {r["estimator"]: r["value"] for r in map(json.loads, ran.stdout.splitlines())}
    want = {r["estimator"]: r["value"] for r in map(json.loads, reference.stdout.splitlines())}
    assert got == want  # the propensities 0,25 were read as 0.25

    refused = run_cli(*base, "--logs", str(path))
    assert refused.code == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "--encoding" in refused.stderr

    out = tmp_path / "learner.npz"
    ran = run_cli(
        "decide", "train", "--logs", str(path), "--out", str(out), *maps,
        "--encoding", "latin-1", "--decimal", ",", "--json",
    )  # fmt: skip
    assert ran.code == 0, ran.output
    assert out.exists()


def test_an_unknown_encoding_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(_ratings(), encoding="utf-8")
    ran = run_cli(
        "evaluate", "topn", "--data", str(path), "--map", "user=user,item=item",
        "--encoding", "klingon",
    )  # fmt: skip
    assert ran.code == 2
    assert "klingon" in ran.stderr and len(ran.stderr.strip().splitlines()) == 1
