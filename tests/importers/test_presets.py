"""Dataset presets: each public data set imports with the counts its README publishes, and the
figures the store reports agree with independent pandas computations on the raw files."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omotenashi import Omotenashi
from omotenashi.errors import DataError, ImportRowError
from omotenashi.importers.presets import PRESETS, preset_plan, title_year
from omotenashi.importers.presets import _cdnow as cdnow_preset
from omotenashi.importers.presets import _obd as obd_preset
from omotenashi.importers.presets import _synthea as synthea_preset

DATA = Path(__file__).resolve().parents[2] / "../shared/datasets"
ML100K = DATA / "ml-100k"
MLLATEST = DATA / "ml-latest-small"
CDNOW = DATA / "cdnow"
SYNTHEA = DATA / "synthea"
OBD = DATA / "obd"
DIGINETICA = DATA / "diginetica-sample"

pytestmark = pytest.mark.dataset


def _store(factory: pytest.TempPathFactory, name: str) -> Omotenashi:
    return Omotenashi(factory.mktemp(name) / "s.db")


def _day(ts: str) -> str:
    return ts[:10]


# -- MovieLens 100K ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ml100k(tmp_path_factory: pytest.TempPathFactory):
    om = _store(tmp_path_factory, "ml100k")
    first = om.import_events(ML100K, preset="movielens-100k")
    again = om.import_events(ML100K / "u.data", preset="movielens-100k")
    yield om, first, again
    om.close()


@pytest.mark.slow
def test_ml100k_counts_match_the_readme(ml100k) -> None:
    om, first, again = ml100k
    assert first.rows_read == first.events_written == 100_000
    assert (first.items_written, first.customers_written, first.rejected) == (1_682, 943, 0)
    stats = om.stats()
    assert stats["events"] == 100_000
    assert stats["events_by_type"] == {"rating": 100_000}
    assert stats["events_by_channel"] == {"web": 100_000}
    assert stats["customers"] == stats["customer_records"] == 943
    assert stats["items"] == stats["items_in_events"] == 1_682
    # README: timestamps 874724710 .. 893286638
    assert stats["first_event"] == datetime.fromtimestamp(874724710, UTC).isoformat()
    assert stats["last_event"] == datetime.fromtimestamp(893286638, UTC).isoformat()


@pytest.mark.slow
def test_ml100k_reimport_writes_nothing_new(ml100k) -> None:
    om, _, again = ml100k
    assert again.rows_read == 100_000
    assert again.events_written == 0 and again.duplicates == 100_000
    assert again.items_written == 0 and again.customers_written == 0
    assert om.stats()["events"] == 100_000


@pytest.mark.slow
def test_ml100k_ratings_match_the_file(ml100k) -> None:
    om, _, _ = ml100k
    events = om.events_frame()
    counts = events["rating"].value_counts().sort_index()
    assert counts.to_dict() == {1.0: 6_110, 2.0: 11_370, 3.0: 27_145, 4.0: 34_174, 5.0: 21_201}
    raw = pd.read_csv(
        ML100K / "u.data", sep="\t", header=None, names=["user", "item", "rating", "ts"]
    )
    expected = raw.assign(user=raw.user.astype(str), item=raw.item.astype(str))
    got = events.assign(ts=events["timestamp"].dt.as_unit("s").astype("int64"))
    merged = expected.merge(
        got, left_on=["user", "item"], right_on=["customer_id", "item_id"], suffixes=("", "_store")
    )
    assert len(merged) == 100_000
    assert (merged["rating"] == merged["rating_store"]).all()
    assert (merged["ts"] == merged["ts_store"]).all()


@pytest.mark.slow
def test_ml100k_items_have_genres_from_u_genre(ml100k) -> None:
    om, _, _ = ml100k
    items = om.items_frame().set_index("item_id")
    genres = pd.read_csv(ML100K / "u.genre", sep="|", header=None, names=["name", "i"])
    raw = pd.read_csv(ML100K / "u.item", sep="|", header=None, encoding="latin-1")
    flags = raw.iloc[:, 5:].set_axis(list(genres["name"]), axis=1)
    for genre in genres["name"]:
        in_store = items["categories"].map(lambda c, g=genre: g in c).sum()
        assert in_store == (0 if genre == "unknown" else flags[genre].sum()), genre
    # every film but the two flagged only 'unknown' has a genre
    only_unknown = int(
        ((flags["unknown"] == 1) & (flags.drop(columns="unknown").sum(axis=1) == 0)).sum()
    )
    assert only_unknown == 2
    assert (items["categories"].str.len() > 0).sum() == 1_682 - only_unknown
    toy = items.loc["1"]
    assert toy["title"] == "Toy Story (1995)"
    assert toy["categories"] == ["Animation", "Children's", "Comedy"]
    assert toy["attributes"]["release_date"] == "1995-01-01"
    assert toy["attributes"]["year"] == 1995
    assert toy["attributes"]["imdb_url"].startswith("http://us.imdb.com/")
    assert pd.isna(items.loc["267", "title"])  # the placeholder film "unknown"
    # latin-1 titles are decoded, not mangled
    assert not items["title"].dropna().str.contains("\ufffd").any()


@pytest.mark.slow
def test_ml100k_customers_from_u_user(ml100k) -> None:
    om, _, _ = ml100k
    customers = om.customers_frame().set_index("customer_id")
    assert customers.loc["1"].to_dict() == {
        "age": 24,
        "gender": "M",
        "occupation": "technician",
        "zip": "85711",
    }
    raw = pd.read_csv(ML100K / "u.user", sep="|", header=None, dtype=str)
    assert customers["occupation"].value_counts().to_dict() == raw[3].value_counts().to_dict()
    assert customers["gender"].value_counts().to_dict() == raw[2].value_counts().to_dict()
    assert customers["age"].sum() == raw[1].astype(int).sum()


def test_ml100k_split_file_imports_that_split(tmp_path: Path) -> None:
    with Omotenashi(tmp_path / "s.db") as om:
        report = om.import_events(ML100K / "u1.test", preset="movielens-100k")
        assert report.events_written == 20_000
        assert report.items_written == 1_682 and report.customers_written == 943


def test_ml100k_side_file_or_folder_names_the_ratings() -> None:
    for given in (ML100K, ML100K / "u.item", ML100K / "u.user"):
        plan = preset_plan("movielens-100k", given)
        assert [s.path.name for s in plan.sources] == ["u.data"]


# -- MovieLens latest-small ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mllatest(tmp_path_factory: pytest.TempPathFactory):
    om = _store(tmp_path_factory, "mllatest")
    report = om.import_events(MLLATEST, preset="movielens-latest")
    yield om, report
    om.close()


@pytest.mark.slow
def test_mllatest_ratings_and_tags(mllatest) -> None:
    om, report = mllatest
    assert report.events_written == 100_836 + 3_683
    stats = om.stats()
    assert stats["events_by_type"] == {"rating": 100_836, "tag": 3_683}
    assert stats["customers"] == 610
    assert stats["items"] == 9_742
    ratings = om.events_frame(["rating"])
    assert ratings["rating"].value_counts().sort_index().to_dict() == {
        0.5: 1_370,
        1.0: 2_811,
        1.5: 1_791,
        2.0: 7_551,
        2.5: 5_550,
        3.0: 20_047,
        3.5: 13_136,
        4.0: 26_818,
        4.5: 8_551,
        5.0: 13_211,
    }
    tags = om.events_frame(["tag"])
    raw = pd.read_csv(MLLATEST / "tags.csv", dtype=str)
    assert sorted(c["tag"] for c in tags["context"]) == sorted(raw["tag"].str.strip())
    assert tags["customer_id"].nunique() == 58


@pytest.mark.slow
def test_mllatest_items(mllatest) -> None:
    om, _ = mllatest
    items = om.items_frame().set_index("item_id")
    movies = pd.read_csv(MLLATEST / "movies.csv", dtype=str).set_index("movieId")
    assert set(items.index) == set(movies.index)
    no_genres = movies["genres"] == "(no genres listed)"
    assert no_genres.sum() == 34
    assert (items.loc[movies.index[no_genres], "categories"].str.len() == 0).all()
    with_genres = movies.index[~no_genres]
    expected = movies.loc[with_genres, "genres"].str.split("|")
    assert (items.loc[with_genres, "categories"] == expected).all()
    toy = items.loc["1"]
    assert toy["title"] == "Toy Story (1995)"
    assert toy["attributes"] == {"imdb_id": "tt0114709", "tmdb_id": 862, "year": 1995}
    # README: 8 links have an empty tmdbId
    assert items["attributes"].map(lambda a: "tmdb_id" not in a).sum() == 8
    # tags aggregated per movie, case-insensitively
    raw = pd.read_csv(MLLATEST / "tags.csv", dtype=str)
    for movie, group in raw.groupby("movieId"):
        assert {t.lower() for t in items.loc[movie, "tags"]} == set(group["tag"].str.lower())
    # the most used tag comes first
    counts = raw.assign(key=raw["tag"].str.lower()).groupby(["movieId", "key"]).size()
    for movie in ("60756", "296", "2959"):
        top = counts.loc[movie].sort_index().sort_values(ascending=False, kind="stable")
        assert items.loc[movie, "tags"][0].lower() == top.index[0]


def test_title_year() -> None:
    assert title_year("Heat (1995)") == 1995
    assert title_year("Babylon 5") is None
    assert title_year("1900 (Novecento) (1976) ") == 1976
    assert title_year(None) is None


# -- CDNOW ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory):
    master = _store(tmp_path_factory, "cdnow-master")
    sample = _store(tmp_path_factory, "cdnow-sample")
    reports = (
        master.import_events(CDNOW, preset="cdnow"),
        sample.import_events(CDNOW / "CDNOW_sample.txt", preset="cdnow"),
    )
    yield master, sample, reports
    master.close()
    sample.close()


@pytest.mark.slow
def test_cdnow_master_matches_published_totals(cdnow) -> None:
    master, _, (report, _) = cdnow
    assert report.source == "cdnow:CDNOW_master.txt"
    assert report.events_written == 69_659
    stats = master.stats()
    assert stats["events_by_type"] == {"purchase": 69_659}
    assert stats["customers"] == 23_570
    assert _day(stats["first_event"]) == "1997-01-01"
    assert _day(stats["last_event"]) == "1998-06-30"
    events = master.events_frame()
    assert events["quantity"].sum() == 167_881
    assert events["value"].sum() == pytest.approx(2_500_315.63, abs=0.005)
    assert stats["purchase_value"] == pytest.approx(2_500_315.63, abs=0.005)
    assert events["item_id"].isna().all() and events["order_id"].isna().all()
    # zero-padded ids keep their zeros
    assert "00001" in set(events["customer_id"])


@pytest.mark.slow
def test_cdnow_sample_keeps_master_ids_and_is_inside_master(cdnow) -> None:
    master, sample, (_, report) = cdnow
    assert report.events_written == 6_919 and report.customers_written == 2_357
    assert sample.stats()["customers"] == 2_357
    events = sample.events_frame()
    assert set(events["customer_id"]) == {f"{i:04d}" for i in range(1, 2_358)}
    events["master_id"] = [c["master_id"] for c in events["context"]]
    # each sample customer has one master id, also stored as an attribute
    assert (events.groupby("customer_id")["master_id"].nunique() == 1).all()
    attrs = sample.customers_frame().set_index("customer_id")["master_id"]
    assert (
        events.set_index("customer_id")["master_id"]
        == attrs.reindex(events["customer_id"]).to_numpy()
    ).all()
    # README: every sample row is present in the master file
    key = ["who", "day", "quantity", "value"]
    got = events.assign(who=events["master_id"], day=events["timestamp"].dt.date)[key]
    whole = master.events_frame()
    whole = whole.assign(who=whole["customer_id"], day=whole["timestamp"].dt.date)[key]
    merged = (
        got.value_counts()
        .rename("n")
        .reset_index()
        .merge(whole.value_counts().rename("m").reset_index(), on=key, how="left")
    )
    assert merged["m"].notna().all() and (merged["n"] <= merged["m"]).all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id date cds dollars\n00001 19970101 1 11.77\n", "header"),
        ("00001 19970101 1\n", "3 fields"),
    ],
)
def test_cdnow_unknown_layout_is_refused(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "cd.txt"
    file.write_text(text)
    with pytest.raises(DataError, match=message):
        cdnow_preset.plan(file)


def test_cdnow_bad_date_names_line_and_field(tmp_path: Path) -> None:
    file = tmp_path / "cd.txt"
    file.write_bytes(b" 00004 0001 19970101  2   29.33\r\n 00004 0001 19971345  2   29.73\r\n")
    with Omotenashi(tmp_path / "s.db") as om, pytest.raises(ImportRowError) as caught:
        om.import_events(file, preset="cdnow")
    assert caught.value.line == 2 and caught.value.field == "date"
    assert "19971345" in str(caught.value)


# -- Synthea -------------------------------------------------------------------------------------


SYNTHEA_KINDS = {
    "encounters": "visit",
    "conditions": "diagnosis",
    "medications": "prescription",
    "procedures": "procedure",
    "immunizations": "immunization",
    "observations": "observation",
    "careplans": "care_plan",
}


@pytest.fixture(scope="module")
def synthea(tmp_path_factory: pytest.TempPathFactory):
    om = _store(tmp_path_factory, "synthea")
    report = om.import_events(SYNTHEA / "patients.csv", preset="synthea")
    yield om, report
    om.close()


def _synthea(name: str) -> pd.DataFrame:
    return pd.read_csv(SYNTHEA / f"{name}.csv", dtype=str, keep_default_na=False)


def test_synthea_event_counts_per_file(synthea) -> None:
    om, report = synthea
    stats = om.stats()
    expected = {kind: len(_synthea(name)) for name, kind in SYNTHEA_KINDS.items()}
    assert expected == {
        "visit": 2_590,
        "diagnosis": 1_534,
        "prescription": 1_772,
        "procedure": 4_637,
        "immunization": 891,
        "observation": 21_697,
        "care_plan": 179,
    }
    assert stats["events_by_type"] == expected
    assert stats["events_by_channel"] == {"clinic": sum(expected.values())}
    assert stats["orders"] == 2_590  # every order id is an encounter
    assert report.rejected == 0


def test_synthea_patients_without_identifiers(synthea) -> None:
    om, _ = synthea
    customers = om.customers_frame()
    assert len(customers) == 59
    assert customers["gender"].value_counts().to_dict() == {"F": 30, "M": 29}
    assert customers["deceased"].sum() == 9 and customers["deathdate"].notna().sum() == 9
    assert set(customers["state"]) == {"California"}
    columns = {c.lower() for c in customers.columns}
    assert not columns & {c.lower() for c in synthea_preset.IDENTIFIER_COLUMNS}
    raw = _synthea("patients")
    stored = {str(v) for v in customers.drop(columns="customer_id").to_numpy().ravel()}
    for column in ("SSN", "FIRST", "LAST", "ADDRESS", "LAT", "LON", "BIRTHPLACE"):
        leaked = set(raw[column]) - {""}
        assert not stored & leaked, column
    spent = customers.set_index("customer_id")["healthcare_expenses"]
    expected = raw.set_index("Id")["HEALTHCARE_EXPENSES"].astype(float).round(2)
    assert np.allclose(spent.sort_index(), expected.sort_index())


def test_synthea_visits_carry_costs_and_context(synthea) -> None:
    om, _ = synthea
    visits = om.events_frame(["visit"]).set_index("order_id")
    raw = _synthea("encounters").set_index("Id")
    assert visits["value"].sum() == pytest.approx(raw["TOTAL_CLAIM_COST"].astype(float).sum())
    one = raw.index[0]
    assert visits.loc[one, "item_id"] == "snomed:" + raw.loc[one, "CODE"]
    context = visits.loc[one, "context"]
    assert context["class"] == raw.loc[one, "ENCOUNTERCLASS"]
    assert context["provider"] == raw.loc[one, "PROVIDER"]
    assert context["organization"] == raw.loc[one, "ORGANIZATION"]
    assert "reason" not in context or context["reason"] == raw.loc[one, "REASONDESCRIPTION"]
    immunizations = om.events_frame(["immunization"])
    assert set(immunizations["item_id"]) == {"cvx:" + c for c in _synthea("immunizations").CODE}
    observations = om.events_frame(["observation"])
    heights = observations[observations["item_id"] == "loinc:8302-2"]
    assert all(isinstance(c["value"], float) and c["units"] == "cm" for c in heights["context"])


def test_synthea_items_are_codes_with_categories(synthea) -> None:
    om, _ = synthea
    items = om.items_frame().set_index("item_id")
    prefixes = {
        "encounters": "snomed",
        "conditions": "snomed",
        "medications": "rxnorm",
        "procedures": "snomed",
        "immunizations": "cvx",
        "observations": "loinc",
        "careplans": "snomed",
    }
    expected: dict[str, set[str]] = {}
    for name, prefix in prefixes.items():
        raw = _synthea(name)
        for code, row in zip(raw["CODE"], raw.to_dict("records"), strict=True):
            if name == "encounters":
                label = f"Encounter: {row['ENCOUNTERCLASS']}"
            elif name == "observations":
                label = f"Observation: {row['CATEGORY']}" if row["CATEGORY"] else "Observation"
            else:
                label = {
                    "conditions": "Condition",
                    "medications": "Medication",
                    "procedures": "Procedure",
                    "immunizations": "Immunization",
                    "careplans": "Care plan",
                }[name]
            expected.setdefault(f"{prefix}:{code}", set()).add(label)
    assert set(items.index) == set(expected)
    assert {i: set(c) for i, c in items["categories"].items()} == expected
    assert items["title"].notna().all()
    assert items.loc["loinc:8302-2", "title"] == "Body Height"
    assert items.loc["loinc:8302-2", "attributes"] == {"system": "LOINC", "code": "8302-2"}


def test_synthea_folder_without_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a Synthea CSV export"):
        preset_plan("synthea", tmp_path)


# -- Open Bandit Dataset -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def obd(tmp_path_factory: pytest.TempPathFactory):
    om = _store(tmp_path_factory, "obd")
    report = om.import_events(OBD / "random" / "all" / "all.csv", preset="obd")
    yield om, report
    om.close()


def test_obd_impressions_and_clicks(obd) -> None:
    om, report = obd
    raw = pd.read_csv(OBD / "random" / "all" / "all.csv", index_col=0)
    clicks = int(raw["click"].sum())
    assert clicks == 38  # README: click rate 0.38 %
    assert report.events_written == 10_000 + clicks
    stats = om.stats()
    assert stats["events_by_type"] == {"view": 10_000, "click": clicks}
    users = raw[list(obd_preset.USER_FEATURES)].drop_duplicates()
    assert stats["anonymous_ids"] == len(users)
    assert stats["items"] == stats["items_in_events"] == 80
    events = om.events_frame()
    context = pd.DataFrame(list(events["context"]))
    assert set(context["policy"]) == {"random"} and set(context["campaign"]) == {"all"}
    views = (
        events[events["type"] == "view"]
        .assign(row=context["row"].to_numpy()[(events["type"] == "view").to_numpy()])
        .set_index("row")
        .sort_index()
    )
    assert (views.index == raw.index).all()
    assert (views["item_id"] == "obd-all-" + raw["item_id"].astype(str)).all()
    view_context = pd.DataFrame(list(views["context"]), index=views.index)
    assert np.allclose(view_context["propensity"], raw["propensity_score"])
    assert (view_context["position"] == raw["position"]).all()
    assert (view_context["click"] == raw["click"]).all()
    # a click repeats its impression: same person, item and time
    click_rows = events[events["type"] == "click"]
    keys = ["anonymous_id", "item_id", "timestamp"]
    matched = click_rows[keys].merge(events[events["type"] == "view"][keys], on=keys)
    assert len(matched) == clicks


def test_obd_items_from_item_context(obd) -> None:
    om, _ = obd
    items = om.items_frame().set_index("item_id")
    raw = pd.read_csv(OBD / "random" / "all" / "item_context.csv", index_col=0)
    for row in raw.itertuples():
        attributes = items.loc[f"obd-all-{row.item_id}", "attributes"]
        assert attributes["index"] == row.item_id
        assert attributes["item_feature_0"] == pytest.approx(row.item_feature_0)
        assert attributes["item_feature_3"] == row.item_feature_3


def test_obd_user_ids_are_stable_hashes() -> None:
    features = pd.DataFrame({name: ["a", "a", "b"] for name in obd_preset.USER_FEATURES})
    ids = obd_preset.user_ids(features)
    assert ids[0] == ids[1] != ids[2]
    digest = hashlib.blake2b(b"a|a|a|a", digest_size=6).hexdigest()
    assert ids[0] == f"obd-user-{digest}"


def test_obd_paths_resolve_to_campaign_files() -> None:
    one = OBD / "bts" / "men" / "men.csv"
    for given in (one, one.parent, one.parent / "item_context.csv"):
        assert [s.path for s in preset_plan("obd", given).sources] == [one]
    every = preset_plan("obd", OBD).sources
    assert sorted(s.path.relative_to(OBD).as_posix() for s in every) == sorted(
        f"{p}/{c}/{c}.csv" for p in ("bts", "random") for c in ("all", "men", "women")
    )


def test_obd_bad_click_names_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "random" / "x"
    folder.mkdir(parents=True)
    header = ",timestamp,item_id,position,click,propensity_score," + ",".join(
        obd_preset.USER_FEATURES
    )
    (folder / "x.csv").write_text(
        header + "\n0,2019-11-24 00:00:34+00:00,1,1,0,0.5,a,b,c,d\n"
        "1,2019-11-24 00:00:35+00:00,1,2,2,0.5,a,b,c,d\n"
    )
    with Omotenashi(tmp_path / "s.db") as om, pytest.raises(DataError, match="line 3: click"):
        om.import_events(folder, preset="obd")


# -- DIGINETICA ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def diginetica(tmp_path_factory: pytest.TempPathFactory):
    om = _store(tmp_path_factory, "diginetica")
    report = om.import_events(DIGINETICA, preset="diginetica")
    yield om, report
    om.close()


def _diginetica_raw() -> pd.DataFrame:
    return pd.read_csv(
        DIGINETICA / "sample_train-item-views.csv", sep=";", dtype=str, keep_default_na=False
    )


def test_diginetica_counts(diginetica) -> None:
    om, report = diginetica
    raw = _diginetica_raw()
    assert report.events_written == 12_391
    stats = om.stats()
    assert stats["events_by_type"] == {"view": 12_391}
    assert stats["anonymous_ids"] == 2_986
    assert stats["customers"] == 1_270
    assert stats["items_in_events"] == 7_139
    sessions_with_user = raw.loc[raw["user_id"] != "NA", "session_id"].nunique()
    assert report.identity_links == sessions_with_user == stats["identity_links"]["anonymous"]


def test_diginetica_sessions_are_stitched_to_users(diginetica) -> None:
    om, _ = diginetica
    raw = _diginetica_raw()
    owner = raw[raw["user_id"] != "NA"].groupby("session_id")["user_id"].first()
    anonymous_in_user_sessions = raw[(raw["user_id"] == "NA") & raw["session_id"].isin(owner.index)]
    assert len(anonymous_in_user_sessions) > 0  # the sample has sessions that sign in midway
    for user in sorted(set(owner[anonymous_in_user_sessions["session_id"]])):
        sessions = owner.index[owner == user]
        expected = int(raw["session_id"].isin(sessions).sum())
        assert om.profile(user).events == expected
        identities = {i.value for i in om.profile(user).identities if i.kind == "anonymous"}
        assert identities == {f"session-{s}" for s in sessions}
    events = om.events_frame()
    rows = events[events["anonymous_id"].isin("session-" + anonymous_in_user_sessions.session_id)]
    assert (rows["person_id"] == rows["anonymous_id"].str[len("session-") :].map(owner)).all()


def test_diginetica_time_is_date_plus_milliseconds(diginetica) -> None:
    om, _ = diginetica
    raw = _diginetica_raw()
    events = om.events_frame()
    for row in raw.sample(20, random_state=7).itertuples():
        expected = datetime.fromisoformat(row.eventdate).replace(tzinfo=UTC) + timedelta(
            milliseconds=int(row.timeframe)
        )
        hit = events[
            (events["anonymous_id"] == f"session-{row.session_id}")
            & (events["item_id"] == row.item_id)
            & (events["timestamp"] == pd.Timestamp(expected))
        ]
        assert len(hit) >= 1, row


def test_diginetica_bad_time_names_line_and_fields(tmp_path: Path) -> None:
    file = tmp_path / "views.csv"
    file.write_text(
        "session_id;user_id;item_id;timeframe;eventdate\n"
        "1;NA;5;100;2016-05-09\n1;7;6;1200;2016-05-09\n2;NA;5;x;2016-05-09\n"
    )
    with Omotenashi(tmp_path / "s.db") as om:
        with pytest.raises(ImportRowError) as caught:
            om.import_events(file, preset="diginetica")
        assert om.stats()["events"] == 0  # one transaction: nothing written
    assert caught.value.line == 4 and caught.value.field == "eventdate+timeframe"
    assert "2016-05-09" in str(caught.value) and "x" in str(caught.value)


# -- every preset --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [p for p in PRESETS if p != "online-retail"])
def test_empty_folder_is_refused_with_the_file_named(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError) as caught:
        preset_plan(name, tmp_path)
    assert caught.value.field == "file"
    assert str(tmp_path) in str(caught.value)
