"""Clinic recalls on the real Synthea export, checked by hand patient by patient.

Every expectation below was worked out from the raw CSV rows (quoted in the comments), not from
the code: the dates come from immunizations.csv, encounters.csv, conditions.csv and
careplans.csv of ../shared/datasets/synthea.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from omotenashi.care import DEFAULT_RULES, clinic_recalls, priority_of
from omotenashi.errors import DataError
from omotenashi.services import Omotenashi

SYNTHEA = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets" / "synthea"
pytestmark = pytest.mark.dataset

#: born 1985-11-20, alive; immunizations: CVX 140 (flu) 2014-01-29, 2017-02-01, 2018-05-16,
#: 2020-02-05; CVX 113 (Td) 2017-02-01; CVX 207 (COVID) 2021-01-20, 2021-02-17. Wellness
#: encounter 2020-02-05; outpatient 2021-01-20 and 2021-02-17 (the last visits).
#: careplans.csv: 384758001 "Self-care interventions" START 1986-10-18, no STOP (open).
MAN = "6761ab26-73e9-ad0b-cec4-56c6edd74762"
#: hypertension (59621000) START 2018-01-20; next encounter 2018-02-19 "Hypertension follow-up
#: encounter" (ambulatory)
HYPERTENSIVE = "4f1a1eee-31c0-887b-e1ea-df6a5c502538"
#: inpatient 2021-06-23 (drug rehabilitation; earlier stays 2012 and 2019), outpatient 2021-06-28
REHAB = "2dd5eb3b-4de9-5693-0787-4bf2cfd63bca"
#: DEATHDATE 2000-09-19
DECEASED = "05ac6b28-140c-3bc0-2260-ad0e5a0e03cb"


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> Omotenashi:
    om = Omotenashi(tmp_path_factory.mktemp("clinic") / "clinic.db")
    om.ingest.import_preset("synthea", SYNTHEA)
    yield om
    om.close()


@pytest.fixture(scope="module")
def frames(clinic):
    return clinic.store.reads.events_frame(), clinic.store.catalog.customers_frame()


def _of(recalls, person):
    return {r.rule: r for r in recalls if r.customer_id == person}


def test_one_patient_on_the_last_day_of_the_data(frames) -> None:
    events, patients = frames
    got = _of(clinic_recalls(events, patients, "2022-02-27"), MAN)
    # age 36 on 2022-02-27: not yet 50 (zoster) or 65 (pneumococcal); Td 2017-02-01 + 3652 days
    # = 2027-02-01, far off; no diabetes, prediabetes, hypertension or hospital stay.
    assert set(got) == {
        "immunization.influenza",
        "wellness.age_band",
        "care_plan.visit_lapsing",
    }
    # flu: 2020-02-05 + 365 days = 2021-02-04; 2022-02-27 is 388 days later
    flu = got["immunization.influenza"]
    assert (flu.due, flu.last_done, flu.overdue_days) == (date(2021, 2, 4), date(2020, 2, 5), 388)
    # wellness: band 18-50 every 730 days; 2020-02-05 + 730 = 2022-02-04 (2020 is a leap year)
    well = got["wellness.age_band"]
    assert (well.due, well.overdue_days) == (date(2022, 2, 4), 23)
    assert "age 36" in well.reason
    # care plan open since 1986: last non-emergency visit 2021-02-17 + 182 days = 2021-08-18
    plan = got["care_plan.visit_lapsing"]
    assert plan.due == date(2021, 8, 18) and plan.overdue_days == 193
    assert "last visit 2021-02-17" in plan.reason


def test_lead_days_decide_what_is_listed_before_it_is_due(frames) -> None:
    events, patients = frames
    # on 2022-01-01 the wellness check-up (due 2022-02-04) is 34 days away
    assert "wellness.age_band" not in _of(clinic_recalls(events, patients, "2022-01-01"), MAN)
    soon = _of(clinic_recalls(events, patients, "2022-01-01", lead_days=34), MAN)
    assert soon["wellness.age_band"].overdue_days == -34
    assert "due in 34 days" in soon["wellness.age_band"].reason


def test_events_after_as_of_are_ignored(frames) -> None:
    events, patients = frames
    # on 2020-02-04 the last flu shot was 2018-05-16: due 2019-05-16, 264 days overdue
    flu = _of(clinic_recalls(events, patients, "2020-02-04"), MAN)["immunization.influenza"]
    assert (flu.due, flu.overdue_days) == (date(2019, 5, 16), 264)
    # the next day the 2020-02-05 shot is in, so the flu recall is a year away
    assert "immunization.influenza" not in _of(clinic_recalls(events, patients, "2020-02-05"), MAN)


def test_follow_up_after_hypertension_onset(frames) -> None:
    events, patients = frames
    # onset 2018-01-20, nothing since on 2018-02-10: due 2018-01-20 + 30 = 2018-02-19
    got = _of(clinic_recalls(events, patients, "2018-02-10"), HYPERTENSIVE)
    follow = got["follow_up.hypertension_onset"]
    assert follow.due == date(2018, 2, 19) and follow.overdue_days == -9
    # the follow-up encounter of 2018-02-19 closes it
    after = _of(clinic_recalls(events, patients, "2018-02-20"), HYPERTENSIVE)
    assert "follow_up.hypertension_onset" not in after


def test_follow_up_after_a_hospital_stay(frames) -> None:
    events, patients = frames
    # admitted 2021-06-23: a visit is due by 2021-07-07 (14 days)
    got = _of(clinic_recalls(events, patients, "2021-06-25"), REHAB)
    assert got["follow_up.after_inpatient"].due == date(2021, 7, 7)
    # the outpatient visit of 2021-06-28 is the follow-up
    assert "follow_up.after_inpatient" not in _of(
        clinic_recalls(events, patients, "2021-06-29"), REHAB
    )


def test_the_dead_are_never_recalled(frames) -> None:
    events, patients = frames
    assert _of(clinic_recalls(events, patients, "2022-02-27"), DECEASED) == {}
    # alive in 1999 (born 1949-06-11, aged 49; no flu shot on record then)
    assert _of(clinic_recalls(events, patients, "1999-06-01"), DECEASED)


def test_all_recalls_match_an_independent_count(frames) -> None:
    """Influenza recalls on 2022-02-27 recomputed with pandas from the raw CSV files."""
    events, patients = frames
    got = {
        r.customer_id
        for r in clinic_recalls(events, patients, "2022-02-27")
        if r.rule == "immunization.influenza"
    }
    raw_p = pd.read_csv(SYNTHEA / "patients.csv")
    raw_i = pd.read_csv(SYNTHEA / "immunizations.csv", dtype={"CODE": str})
    day = pd.Timestamp("2022-02-27")
    alive = raw_p[raw_p["DEATHDATE"].isna() | (pd.to_datetime(raw_p["DEATHDATE"]) > day)]
    born = pd.to_datetime(alive["BIRTHDATE"])
    alive = alive[born + pd.DateOffset(months=6) <= day]
    flu = raw_i[raw_i["CODE"] == "140"]
    last = pd.to_datetime(flu["DATE"]).dt.tz_localize(None).groupby(flu["PATIENT"]).max()
    expected = set()
    for pid, birth in zip(alive["Id"], pd.to_datetime(alive["BIRTHDATE"]), strict=True):
        due = (
            (last[pid] + pd.Timedelta(days=365))
            if pid in last.index
            else birth + pd.DateOffset(months=6)
        )
        if due.normalize() <= day + pd.Timedelta(days=30):
            expected.add(pid)
    assert got == expected and len(got) > 5


def test_priority_grows_with_overdue_days_and_lapse_risk() -> None:
    assert priority_of(1.0, 0, 0.5) == 0.75
    assert priority_of(1.0, 365, 1.0) == 2.0
    assert priority_of(1.0, 9999, 1.0) == 2.0  # capped at a year
    assert priority_of(1.0, 100, None) == priority_of(1.0, 100, 0.5)


def test_every_rule_names_its_source() -> None:
    for rule in DEFAULT_RULES:
        assert len(rule.source) > 40, rule.name


def test_bad_input_is_refused(frames) -> None:
    events, patients = frames
    with pytest.raises(DataError, match="lead_days"):
        clinic_recalls(events, patients, "2022-02-27", lead_days=-1)
    with pytest.raises(DataError, match="birthdate"):
        clinic_recalls(events, patients.drop(columns=["birthdate"]), "2022-02-27")


def test_service_rows_carry_the_reminder_fields_and_lapse_risk(clinic) -> None:
    # one patient's recalls read the lapse risk a batch run saved; none saved yet: unknown
    unscored = clinic.care.recalls("2022-02-27", customer_id=MAN)
    assert unscored and all(r["lapse_risk"] is None for r in unscored)
    assert "lapse risk unknown" in clinic.care.lapse_note(MAN)
    scored = clinic.care.score_lapse_risk("2022-02-27")
    assert scored["as_of"] == "2022-02-27" and scored["patients_scored"] > 10
    assert clinic.care.lapse_note(MAN) is None
    rows = clinic.care.recalls("2022-02-27", customer_id=MAN)
    # the same rows as every patient's recalls (lapse risk fitted on everyone) cut to him
    assert rows == [r for r in clinic.care.recalls("2022-02-27") if r["customer_id"] == MAN]
    assert {r["rule"] for r in rows} == {
        "immunization.influenza",
        "wellness.age_band",
        "care_plan.visit_lapsing",
    }
    for row in rows:
        assert {"customer_id", "topic", "rule", "due", "reason", "priority"} <= set(row)
        assert 0 <= row["lapse_risk"] <= 1
    assert rows == sorted(rows, key=lambda r: -r["priority"])


def test_a_dose_missing_from_before_the_clinic_knew_the_patient_is_due_from_then() -> None:
    # born 1950, first seen at the clinic on 2021-03-10 (a visit), no flu dose on record: the
    # flu recall is due from 2021-03-10, not from 1950-07 (age 0.5)
    events = pd.DataFrame(
        {
            "person_id": ["p1"],
            "type": ["visit"],
            "item_id": ["185349003"],
            "timestamp": [pd.Timestamp("2021-03-10", tz="UTC")],
            "context": ['{"class": "ambulatory"}'],
        }
    )
    patients = pd.DataFrame({"customer_id": ["p1"], "birthdate": ["1950-01-01"]})
    found = {r.rule: r for r in clinic_recalls(events, patients, "2022-02-27")}
    flu = found["immunization.influenza"]
    assert flu.due == date(2021, 3, 10)
    assert "first seen here 2021-03-10" in flu.reason
    assert (date(2022, 2, 27) - flu.due).days == 354
