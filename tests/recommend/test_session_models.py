"""V-SKNN, STAN, VSTAN and sknn on tiny sessions whose scores are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from omotenashi.errors import DataError
from omotenashi.evaluation import evaluate_sessions, split_sessions_last
from omotenashi.recommend import make_model, next_click_metrics
from omotenashi.recommend._session import SKNN_GRID

E = math.exp(-1.0)
DAY = pd.Timestamp("2026-01-01", tz="UTC")


def sessions(*streams: tuple[str, int, str]) -> pd.DataFrame:
    """(session id, day, "A B C") -> one click a minute, the last one at that day's midnight."""
    rows = []
    for sid, day, items in streams:
        clicks = items.split()
        for j, item in enumerate(clicks):
            rows.append((sid, item, DAY + pd.Timedelta(days=day, minutes=j - len(clicks) + 1)))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def scores(model, clicks: list[str]) -> dict[str, float]:
    x, ages, _ = model._session_history(clicks)
    row = model._score(x, ages)[0]
    return {str(model.item_ids_[j]): float(row[j]) for j in np.flatnonzero(row)}


# -- STAN: w1 (position in the session), w2 (neighbour recency), w3 (distance in the neighbour) --
def test_stan_weights_by_hand():
    data = sessions(("n1", 0, "A B C"), ("n2", 1, "B D"))
    model = make_model("stan", k=10, position_decay=1.0, recency_days=1.0, distance_decay=1.0).fit(
        data
    )
    # current session A, B: w1(A) = exp((1 - 2) / 1), w1(B) = 1
    sim_n1 = (E + 1.0) / math.sqrt(2 * 3) * E  # cosine, n1 is one day older than n2: w2 = e^-1
    sim_n2 = 1.0 / math.sqrt(2 * 2)  # only B shared; n2 is the newest session: w2 = 1
    # the latest click found in n1 is B (position 2): w3(A) = w3(C) = e^-1, w3(B) = 1;
    # in n2 it is B (position 1): w3(D) = e^-1
    expected = {
        "A": sim_n1 * E,
        "B": sim_n1 + sim_n2,
        "C": sim_n1 * E,
        "D": sim_n2 * E,
    }
    assert scores(model, ["A", "B"]) == pytest.approx(expected)


def test_stan_position_decay_follows_the_latest_click():
    data = sessions(("n1", 0, "A X"), ("n2", 0, "B Y"))
    model = make_model("stan", k=10, position_decay=1.0, recency_days=None).fit(data)
    # A then B: B is the latest click, so its neighbour n2 is e times as similar as n1
    got = scores(model, ["A", "B"])
    assert got["Y"] / got["X"] == pytest.approx(1.0 / E)
    got = scores(model, ["B", "A"])
    assert got["X"] / got["Y"] == pytest.approx(1.0 / E)
    # without time decay, sessions of any age weigh the same
    assert make_model("stan", recency_days=None).fit(data).recommend_session(["A"], 1)


# -- V-SKNN: linear click weights, dot product, k neighbours among the sample_size most recent --
def test_vsknn_linear_weights_and_dot_product_by_hand():
    data = sessions(("n1", 2, "A X"), ("n2", 1, "C Y"), ("n3", 0, "B C Z"))
    model = make_model("vsknn", k=10, sample_size=0).fit(data)
    # session A, B, C: linear weights 1/3, 2/3, 1 (the latest click weighs 1)
    sim = {"n1": 1 / 3, "n2": 1.0, "n3": 2 / 3 + 1.0}
    expected = {
        "A": sim["n1"],
        "X": sim["n1"],
        "C": sim["n2"] + sim["n3"],
        "Y": sim["n2"],
        "B": sim["n3"],
        "Z": sim["n3"],
    }
    assert scores(model, ["A", "B", "C"]) == pytest.approx(expected)
    # k = 2 keeps the two most similar sessions (n3, n2): n1 no longer votes
    top2 = scores(make_model("vsknn", k=2, sample_size=0).fit(data), ["A", "B", "C"])
    assert "X" not in top2 and top2["Z"] == pytest.approx(sim["n3"])
    # sample_size = 2 keeps the two most recent sessions sharing an item (n1, n2) before k
    recent = scores(make_model("vsknn", k=10, sample_size=2).fit(data), ["A", "B", "C"])
    assert "Z" not in recent and recent["X"] == pytest.approx(sim["n1"])


def test_vsknn_idf_weight_and_cosine():
    data = sessions(("n1", 0, "A X"), ("n2", 0, "A B"), ("n3", 0, "B Q R"))
    plain = scores(make_model("vsknn", k=10, sample_size=0).fit(data), ["A"])
    idf = scores(make_model("vsknn", k=10, sample_size=0, idf_weight=2.0).fit(data), ["A"])
    # idf(i) = log(1 + 3 sessions / sessions with i): X in 1, B in 2
    assert idf["X"] == pytest.approx(plain["X"] * math.log(1 + 3 / 1) ** 2)
    assert idf["B"] == pytest.approx(plain["B"] * math.log(1 + 3 / 2) ** 2)
    cos = scores(make_model("vsknn", k=10, similarity="cosine").fit(data), ["A"])
    assert cos["X"] == pytest.approx(1.0 / math.sqrt(1 * 2))


# -- VSTAN: STAN plus the matched click's position weight (λ_ipw), sampling and IDF --------------
def test_vstan_anchor_position_weight_by_hand():
    data = sessions(("n1", 0, "A X"), ("n2", 0, "B Y"))
    model = make_model(
        "vstan",
        k=10,
        sample_size=0,
        similarity="dot",
        position_decay=1.0,
        recency_days=None,
        distance_decay=1.0,
        anchor_decay=1.0,
        idf_weight=0.0,
    ).fit(data)
    got = scores(model, ["A", "B"])
    # n1: sim e^-1 (A is one click old), X one step from A (e^-1), A's age 2 (e^-1)
    assert got["X"] == pytest.approx(E**3)
    # n2: sim 1, Y one step from B (e^-1), B is the latest click (1)
    assert got["Y"] == pytest.approx(E)
    without = scores(model.set_params(anchor_decay=None), ["A", "B"])
    assert without["X"] == pytest.approx(E**2)


def test_session_items_can_be_left_out():
    data = sessions(("n1", 0, "A B C"), ("n2", 0, "A C"))
    for name in ("vsknn", "stan", "vstan"):
        model = make_model(name, repeat_items=False).fit(data)
        got = scores(model, ["A"])
        assert "A" not in got and got["C"] > 0


@pytest.mark.parametrize(
    ("name", "params", "field"),
    [
        ("vsknn", {"weighting": "cubic"}, "weighting"),
        ("vsknn", {"similarity": "jaccard"}, "similarity"),
        ("stan", {"position_decay": 0}, "position_decay"),
        ("vstan", {"sample_size": -1}, "sample_size"),
        ("vstan", {"k": 0}, "k"),
    ],
)
def test_bad_parameters_are_refused_at_fit(name, params, field):
    with pytest.raises(DataError, match=field):
        make_model(name, **params).fit(sessions(("n1", 0, "A B")))


# -- reasons: the votes split exactly by the clicks of the current session ---------------------
@pytest.mark.parametrize("name", ["sknn", "vsknn", "stan", "vstan"])
def test_reason_parts_add_up_to_the_score(name):
    data = sessions(
        ("n1", 0, "A B C"), ("n2", 1, "B D C"), ("n3", 2, "A D E"), ("n4", 3, "C A F B")
    )
    model = make_model(name).fit(data)
    x, ages, _ = model._session_history(["A", "B", "A", "D"])
    row = model._score(x, ages)[0]
    for item in np.flatnonzero(row):
        parts = model._contributions(x, ages, int(item))
        assert sum(v for _, _, v in parts) == pytest.approx(row[item])
        session_items = {int(j) for j in x.indices}
        assert all(set(idx) <= session_items for _, idx, _ in parts)


# -- sknn's item-to-item part: BM25 neighbours of each click, scaled beside the votes -----------
ITEM_DATA = (
    ("n1", 0, "A B C"),
    ("n2", 1, "B D C"),
    ("n3", 2, "A D E"),
    ("n4", 3, "C A F B"),
    ("n5", 3, "E F G"),
    ("n6", 4, "G H A"),
)


def test_sknn_item_part_is_the_bm25_item_knn_of_the_decayed_clicks():
    data = sessions(*ITEM_DATA)
    params = {"tune": False, "distance_decay": None, "position_decay": 2.0}
    plain = make_model("sknn", **params).fit(data)
    mixed = make_model("sknn", item_weight=0.3, **params).fit(data)
    # independently: the itemknn_bm25 model (100 neighbours) scores the clicks decayed by age
    knn = make_model("itemknn_bm25", k=100).fit(data)
    x, ages, _ = plain._session_history(["A", "B", "D"])
    decayed = x.copy()
    decayed.data = np.exp(-(ages.data - 1.0) / 2.0).astype(np.float32)
    items = np.asarray(decayed @ knn.B_.toarray()).ravel()
    votes = plain._neighbourhood(ages.tocsr()).scores()[0]
    # the fitted sessions never go back to an item: the visit's own are not offered, and each
    # part is scaled by its largest score among the items that are
    votes[x.indices] = items[x.indices] = 0.0
    expected = votes / votes.max() + 0.3 * items / items.max()
    got = mixed._score(x, ages)[0]
    assert items.max() > 0 and not np.allclose(got, votes / votes.max())
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_sknn_item_part_reasons_add_up_to_the_score_and_survive_a_reload(tmp_path):
    from omotenashi.recommend import load_model, save_model

    repeats = ITEM_DATA + (("n7", 5, "A B A C"), ("n8", 5, "D D E"))  # repeats: the repeat term
    model = make_model("sknn", tune=False, item_weight=0.5).fit(sessions(*repeats))
    assert model.repeats_ and model.item_similarity_ is not None
    x, ages, _ = model._session_history(["A", "B", "A", "D"])
    row = model._score(x, ages)[0]
    for item in np.flatnonzero(row):
        parts = model._contributions(x, ages, int(item))
        assert sum(v for _, _, v in parts) == pytest.approx(row[item])
    save_model(model, tmp_path)
    again, _ = load_model(tmp_path, "sknn")
    assert again.item_similarity_ is not None
    assert again._score(x, ages)[0] == pytest.approx(row)
    assert [r.item_id for r in again.recommend_session(["A", "B"], 5)] == [
        r.item_id for r in model.recommend_session(["A", "B"], 5)
    ]


def test_sknn_without_the_item_part_scores_as_before_and_learns_no_item_neighbours():
    data = sessions(*ITEM_DATA)
    model = make_model("sknn", tune=False).fit(data)
    assert model.item_similarity_ is None
    x, ages, _ = model._session_history(["A", "B"])
    raw = model._neighbourhood(ages.tocsr()).scores()[0]
    raw[x.indices] = 0.0
    assert model._score(x, ages)[0] == pytest.approx(raw)


@pytest.mark.parametrize("bad", [-0.1, "0.2", True, float("nan")])
def test_sknn_refuses_a_bad_item_weight(bad):
    with pytest.raises(DataError, match="item_weight"):
        make_model("sknn", tune=False, item_weight=bad).fit(sessions(*ITEM_DATA))


# -- the batch evaluator ranks exactly as recommend_session ------------------------------------
def test_next_click_metrics_agree_with_the_product_path():
    rng = np.random.default_rng(0)
    rows = []
    for s in range(120):
        day = s // 10
        items = rng.choice(list("ABCDEFGHIJKL"), size=int(rng.integers(2, 7)))
        rows += [
            (s, it, DAY + pd.Timedelta(days=day, minutes=j), DAY) for j, it in enumerate(items)
        ]
    frame = pd.DataFrame(rows, columns=["session_id", "item_id", "timestamp", "date"])
    frame["date"] = frame["timestamp"].dt.floor("D")
    split = split_sessions_last(frame, order_by="date")
    test = [list(g) for _, g in split.test.groupby("session_id", sort=False)["item_id"]]
    train = split.train.rename(columns={"session_id": "user_id"})
    for name in ("sknn", "vsknn", "stan", "vstan"):
        fast = next_click_metrics(make_model(name).fit(train), test, k=5)
        slow = evaluate_sessions(split, [(name, make_model(name))], k=5)[0]
        assert fast["n_predictions"] == slow["n_predictions"]
        assert fast["hr@5"] == pytest.approx(slow["hr@5"])
        assert fast["mrr@5"] == pytest.approx(slow["mrr@5"])


# -- sknn tunes itself on the most recent of the sessions it is fitted on -----------------------
def _markov_sessions(n: int, seed: int = 0) -> pd.DataFrame:
    """Sessions walking a ring of 30 items: the next click is the next item or the one after."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        item = int(rng.integers(30))
        for j in range(int(rng.integers(2, 7))):
            rows.append((f"s{s}", f"i{item}", DAY + pd.Timedelta(hours=s, minutes=j)))
            item = (item + int(rng.integers(1, 3))) % 30
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def test_sknn_tunes_itself_only_with_enough_sessions(tmp_path):
    from omotenashi.recommend import load_model, save_model
    from omotenashi.recommend._session import SKNN_GRID

    small = make_model("sknn").fit(_markov_sessions(100))
    assert small.tuned_ == {}
    data = _markov_sessions(400)
    model = make_model("sknn").fit(data)
    assert set(model.tuned_) == {*SKNN_GRID, "item_weight"}
    assert all(
        model.tuned_[p] in SKNN_GRID[p] or model.tuned_[p] == model.get_params()[p]
        for p in SKNN_GRID
    )
    assert model.tuning_["settings_tried"] > len(SKNN_GRID)
    # the constructor's values are left alone (they are the start of the search)
    assert model.get_params() == make_model("sknn").get_params()
    untuned = make_model("sknn", tune=False).fit(data)
    assert untuned.tuned_ == {}
    save_model(model, tmp_path)
    again, _ = load_model(tmp_path, "sknn")
    assert again.tuned_ == model.tuned_
    clicks = ["i3", "i4"]
    assert [r.item_id for r in again.recommend_session(clicks, 5)] == [
        r.item_id for r in model.recommend_session(clicks, 5)
    ]


def test_sknn_scores_its_item_part_last_on_the_setting_its_walk_chose(monkeypatch):
    import omotenashi.recommend._session as session_models

    data = _markov_sessions(400)
    model = make_model("sknn").fit(data)
    monkeypatch.setattr(session_models, "SKNN_ITEM_WEIGHTS", (0.0,))
    plain = make_model("sknn").fit(data)
    walk = {k: v for k, v in model.tuned_.items() if k != "item_weight"}
    assert walk == {k: v for k, v in plain.tuned_.items() if k != "item_weight"}
    assert plain.tuned_["item_weight"] == 0.0
    assert model.tuned_["item_weight"] in session_models.SKNN_ITEM_WEIGHTS
    # three weights more than the walk scored (0 was the walk's own), the best of them kept
    assert model.tuning_["settings_tried"] == plain.tuning_["settings_tried"] + 3
    assert model.tuning_["validation"] >= plain.tuning_["validation"]


def test_sknn_tuning_scores_up_to_600_held_out_sessions():
    from omotenashi.recommend._session import SessionKNN

    # 1,000 sessions: the latest fifth, 200 of them, all go to the search (a sample of 150 did
    # before, too small to tell settings apart on the Online Retail invoices)
    model = make_model("sknn").fit(_markov_sessions(1000))
    assert model.tuning_["validation_sessions"] == 200
    assert SessionKNN._TUNE_SESSIONS == 600


def test_sknn_tuning_stops_when_its_budget_is_spent_and_reports_each_setting():
    data = _markov_sessions(400)
    seen: list[tuple[int, float]] = []
    free = make_model("sknn")
    free.tuning_progress = lambda scored, best: seen.append((scored, best))
    free.fit(data)
    tried = free.tuning_["settings_tried"]
    assert tried > len(SKNN_GRID) and free.tuning_["budget_exhausted"] is False
    # one call per setting scored, counting up, the best never falling, ending at the record
    assert [n for n, _ in seen] == list(range(1, tried + 1))
    assert all(b2 >= b1 for (_, b1), (_, b2) in zip(seen, seen[1:], strict=False))
    assert seen[-1][1] == pytest.approx(free.tuning_["validation"])
    # no time at all: the constructor's setting is scored, nothing after it, and it is kept
    spent = make_model("sknn", tune_budget_s=0).fit(data)
    assert spent.tuning_["settings_tried"] == 1
    assert spent.tuning_["budget_exhausted"] is True
    assert spent.tuned_ == {p: spent.get_params()[p] for p in (*SKNN_GRID, "item_weight")}
    assert spent.tuning_["validation"] <= free.tuning_["validation"]
    # a budget the search fits in changes nothing
    roomy = make_model("sknn", tune_budget_s=600).fit(data)
    assert roomy.tuned_ == free.tuned_ and roomy.tuning_["budget_exhausted"] is False


@pytest.mark.parametrize("bad", [-1, "10", True, float("nan")])
def test_sknn_refuses_a_bad_tuning_budget(bad):
    with pytest.raises(DataError, match="tune_budget_s"):
        make_model("sknn", tune_budget_s=bad).fit(_markov_sessions(50))


def test_sknn_tuning_holds_out_the_latest_sessions_of_its_own_data(monkeypatch):
    # the latest fifth of the sessions walk the ring backwards: the search must see them
    data = _markov_sessions(400)
    late = data["user_id"].str[1:].astype(int) >= 320
    flipped = data.copy()
    flipped.loc[late, "item_id"] = "i" + (
        (30 - flipped.loc[late, "item_id"].str[1:].astype(int)) % 30
    ).astype(str)
    import omotenashi.recommend._session as mod

    seen = []
    original = mod.next_click_rows

    def spy(model, sessions):
        seen.extend(sessions)
        return original(model, sessions)

    monkeypatch.setattr(mod, "next_click_rows", spy)
    make_model("sknn").fit(flipped)
    held = {tuple(s) for s in seen}
    late_ids = set(flipped.loc[late, "user_id"])
    late_sessions = {
        tuple(g) for sid, g in flipped.groupby("user_id")["item_id"] if sid in late_ids
    }
    assert held and held <= late_sessions


def test_coordinate_walk_finds_the_scans_optimum_with_fewer_settings():
    from omotenashi.recommend._session import coordinate_walk

    grid = {
        "a": (1, 2, 4, 8, 16, None),
        "b": (0.0, 0.5, 1.0, 2.0),
        "flag": (True, False),
    }
    # unimodal in each ordered parameter (None: the far end), with an interaction term
    peak = {"a": 3, "b": 1, "flag": 1}

    def value(params):
        a = grid["a"].index(params["a"])
        b = grid["b"].index(params["b"])
        return -((a - peak["a"]) ** 2) - (b - peak["b"]) ** 2 - 0.1 * a * b + params["flag"]

    calls: list[dict] = []

    def objective(params):
        calls.append(params)
        return value(params)

    start = {"a": None, "b": 0.0, "flag": False}
    best, score = coordinate_walk(objective, start, grid, passes=2)
    # the exhaustive optimum over the whole grid, computed independently
    import itertools

    every = [dict(zip(grid, v, strict=True)) for v in itertools.product(*grid.values())]
    optimum = max(every, key=value)
    assert best == optimum and score == value(optimum)
    assert len({tuple(c.items()) for c in calls}) < len(every)
    # walking down from the far end took it past the neighbours of the start
    assert best["a"] == 8 and start["a"] is None


def test_coordinate_walk_scans_a_parameter_whose_start_is_off_the_grid():
    from omotenashi.recommend._session import coordinate_walk

    seen = []

    def objective(params):
        seen.append(params["k"])
        return -abs(params["k"] - 40)

    best, _ = coordinate_walk(objective, {"k": 5}, {"k": (10, 20, 50, 100)}, passes=1)
    assert best == {"k": 50} and set(seen) == {5, 10, 20, 50, 100}


def test_sknn_search_reuses_neighbours_only_while_vote_parameters_change():
    from omotenashi.recommend._session import next_click_rows

    data = _markov_sessions(300)
    model = make_model("sknn", tune=False).fit(data)
    fresh = make_model("sknn", tune=False).fit(data)
    sessions = [list(g)[:6] for _, g in data.groupby("user_id")["item_id"]][:40]
    X, A, _ = next_click_rows(model, sessions)
    model._hood_memo = {}
    settings = [
        {},
        {"distance_decay": 1.0},
        {"anchor_decay": 2.0, "idf_weight": 1.0},
        {"distance_decay": None},  # binary scoring: other entries, built again
        {"k": 5},  # other neighbours
        {"k": 5, "distance_decay": 8.0},
    ]
    for params in settings:
        model.set_params(**params)
        fresh.set_params(**params)
        np.testing.assert_allclose(model._score(X, A), fresh._score(X, A), rtol=1e-12)
    assert len(model._hood_memo) == 2  # the setting and the one batch of its neighbours
    assert model._hood_memo["setting"][0] == 5


# -- the neighbourhood's fast paths give what the plain arithmetic gives, to the bit --------------
@pytest.mark.parametrize("k", [1, 3, 7, 50])
def test_top_k_in_rows_keeps_what_a_stable_sort_keeps(k):
    from omotenashi.recommend._session import _top_k_in_rows

    rng = np.random.default_rng(k)
    n_rows = 40
    counts = rng.integers(0, 30, n_rows)
    counts[:3] = (0, k, k + 1)  # an empty row, a row of exactly k, one over
    rows = np.repeat(np.arange(n_rows), counts)
    values = rng.integers(1, 5, len(rows)).astype(np.float64)  # many ties at every bound
    order = np.lexsort((-values, rows))  # the reference: stable, then the first k of each row
    starts = np.searchsorted(rows[order], np.arange(n_rows))
    rank = np.arange(len(order)) - starts[rows[order]]
    expected = order[rank < k]
    assert np.array_equal(_top_k_in_rows(rows, values, n_rows, k), expected)


def test_decays_read_from_a_table_equal_the_exponential():
    from omotenashi.recommend._session import _exp_decay

    steps = np.random.default_rng(0).integers(0, 60, 5000).astype(np.int32)
    for decay in (0.5, 1.0, 2.0, 4.0, 8.0, 3.7):
        expected = np.exp(-steps.astype(np.float64) / decay)
        assert np.array_equal(_exp_decay(steps, decay), expected)
    half = np.array([0.5, 1.5, np.inf])
    assert np.array_equal(_exp_decay(half, 2.0), np.exp(-half / 2.0))


@pytest.mark.parametrize("name", ["sknn", "vstan", "stan"])
def test_whole_positions_take_the_table_path_with_the_same_scores(name, monkeypatch):
    import omotenashi.recommend._session as mod

    data = _markov_sessions(300)
    model = make_model(name, **({"tune": False} if name == "sknn" else {})).fit(data)
    X, A, _ = mod.next_click_rows(model, [list(g) for _, g in data.groupby("user_id")["item_id"]])
    fast = model._score(X, A)
    monkeypatch.setattr(mod, "_is_whole", lambda x: False)  # the float arithmetic throughout
    slow = model._score(X, A)
    assert fast.any() and np.array_equal(fast, slow)


def test_an_answers_explanations_reuse_its_neighbourhood_and_never_a_stale_one(monkeypatch):
    import omotenashi.recommend._session as mod

    data = _markov_sessions(300)
    model = make_model("sknn", tune=False).fit(data)
    built = []
    original = mod._Neighbourhood.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(mod._Neighbourhood, "__init__", counting)
    answer = model.recommend_session(["i3", "i4", "i5"], 5)
    assert len(built) == 1  # scored and explained from one neighbourhood
    for rec in answer:
        assert sum(r.weight for r in rec.reasons) == pytest.approx(rec.score, rel=1e-9)
    # another setting: the kept neighbourhood no longer fits and is not used
    x, ages, _ = model._session_history(["i3", "i4", "i5"])
    model.set_params(distance_decay=1.0)
    items = [model._item_pos[r.item_id] for r in answer]
    got = model._contributions_many(x, ages, items)
    fresh = make_model("sknn", tune=False, distance_decay=1.0).fit(data)
    assert got == fresh._contributions_many(x, ages, items)
    # nor after a refit on other data
    model.set_params(distance_decay=4.0)
    model.recommend_session(["i3", "i4", "i5"], 5)
    more = _markov_sessions(100, seed=1)  # later visits over the same items: the same index
    more["user_id"] = "t" + more["user_id"]
    more["timestamp"] += pd.Timedelta(days=30)
    other = pd.concat([data, more], ignore_index=True)
    model.fit(other)  # no answer since: the neighbourhood kept is the old data's
    refit = make_model("sknn", tune=False).fit(other)
    x, ages, _ = refit._session_history(["i3", "i4", "i5"])
    items = [refit._item_pos[r.item_id] for r in refit.recommend_session(["i3", "i4", "i5"], 5)]
    assert model._contributions_many(x, ages, items) == refit._contributions_many(x, ages, items)


def test_sknn_explains_an_answer_from_one_computation_of_its_item_part(monkeypatch):
    model = make_model("sknn", tune=False, item_weight=0.3).fit(_markov_sessions(400))
    calls = []
    votes = model._item_votes
    monkeypatch.setattr(model, "_item_votes", lambda ages: calls.append(1) or votes(ages))
    recs = model.recommend_session(["i1", "i2", "i4"], 8, explain=True)
    assert len(recs) == 8 and all(r.reasons for r in recs)
    assert len(calls) == 2  # once for the scores, once for every item's reasons
    # other settings on the same visit: computed again, and the parts still add up
    model.set_params(item_weight=0.1)
    x, ages, _ = model._session_history(["i1", "i2", "i4"])
    row = model._score(x, ages)[0]
    for item in np.argsort(-row)[:5]:
        parts = model._contributions(x, ages, int(item))
        assert sum(v for _, _, v in parts) == pytest.approx(row[item])
