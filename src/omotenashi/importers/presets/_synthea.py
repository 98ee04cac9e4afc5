"""Preset ``synthea``: a Synthea (synthetic EHR) CSV export as patients, care events and codes.

Why a preset: a health record is spread over one file per kind of care, each with its own code
system, and a patient file full of direct identifiers that must not reach a marketing store.

* customers from ``patients.csv``: birthdate, deathdate, ``deceased``, gender, race, ethnicity,
  marital, city, county, state, zip, healthcare expenses and coverage. **Direct identifiers are
  not imported**: SSN, driver's licence, passport, name parts (prefix, first, last, suffix,
  maiden), birthplace, street address and latitude/longitude;
* events on channel ``clinic``, with the encounter as ``order`` (so a visit and what happened
  in it group together):

  ========================  ================  ================  =====================
  file                      type              item              value / context
  ========================  ================  ================  =====================
  ``encounters.csv``        ``visit``         ``snomed:CODE``   total claim cost; class,
                                                                description, reason,
                                                                provider, organization
  ``conditions.csv``        ``diagnosis``     ``snomed:CODE``   stop
  ``medications.csv``       ``prescription``  ``rxnorm:CODE``   total cost, dispenses;
                                                                reason, stop
  ``procedures.csv``        ``procedure``     ``snomed:CODE``   base cost; reason
  ``immunizations.csv``     ``immunization``  ``cvx:CODE``      base cost
  ``observations.csv``      ``observation``   ``loinc:CODE``    category, value, units
  ``careplans.csv``         ``care_plan``     ``snomed:CODE``   stop, reason, plan id
  ========================  ================  ================  =====================

* items: every code, titled by its most common description, with one category per kind
  (``Encounter: wellness``, ``Condition``, ``Medication``, ``Procedure``, ``Immunization``,
  ``Observation: vital-signs``, ``Care plan``, ...; a SNOMED code used by several kinds gets
  each category).

Care plans are events too (a plan's start, its stop in the context): clinic recalls must know
which plans are still open. The other files of the export (allergies, devices, imaging,
supplies, claims, payers, providers, organizations) are not imported. Pass the export folder
or any CSV file in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from omotenashi.errors import DataError
from omotenashi.files import CsvOptions, read_table
from omotenashi.importers._plan import EventSource, ImportPlan
from omotenashi.ingest import EventDefaults

CHANNEL = "clinic"
ITEM_COLUMN = "__item__"
PATIENT_FILE = "patients.csv"

#: patients.csv column -> customer attribute (everything else, identifiers included, is dropped)
PATIENT_ATTRIBUTES: dict[str, str] = {
    "BIRTHDATE": "birthdate",
    "DEATHDATE": "deathdate",
    "GENDER": "gender",
    "RACE": "race",
    "ETHNICITY": "ethnicity",
    "MARITAL": "marital",
    "CITY": "city",
    "COUNTY": "county",
    "STATE": "state",
    "ZIP": "zip",
    "HEALTHCARE_EXPENSES": "healthcare_expenses",
    "HEALTHCARE_COVERAGE": "healthcare_coverage",
}
NUMERIC_ATTRIBUTES = ("healthcare_expenses", "healthcare_coverage")
#: direct identifiers of patients.csv, never imported (checked by the tests)
IDENTIFIER_COLUMNS = (
    "SSN",
    "DRIVERS",
    "PASSPORT",
    "PREFIX",
    "FIRST",
    "LAST",
    "SUFFIX",
    "MAIDEN",
    "BIRTHPLACE",
    "ADDRESS",
    "LAT",
    "LON",
)

SYSTEM_NAMES = {"snomed": "SNOMED-CT", "rxnorm": "RxNorm", "cvx": "CVX", "loinc": "LOINC"}


@dataclass(frozen=True)
class Kind:
    """One file of care events and how it maps to events and catalogue items."""

    file: str
    type: str
    system: str  # item id prefix
    category: str  # item category; "{}" is filled with ``category_column``
    time: str
    mapping: dict[str, str] = field(default_factory=dict)
    category_column: str | None = None


KINDS: tuple[Kind, ...] = (
    Kind(
        "encounters.csv",
        "visit",
        "snomed",
        "Encounter: {}",
        "START",
        {
            "order": "Id",
            "value": "TOTAL_CLAIM_COST",
            "context.class": "ENCOUNTERCLASS",
            "context.description": "DESCRIPTION",
            "context.reason": "REASONDESCRIPTION",
            "context.provider": "PROVIDER",
            "context.organization": "ORGANIZATION",
        },
        category_column="ENCOUNTERCLASS",
    ),
    Kind(
        "conditions.csv",
        "diagnosis",
        "snomed",
        "Condition",
        "START",
        {"order": "ENCOUNTER", "context.stop": "STOP"},
    ),
    Kind(
        "medications.csv",
        "prescription",
        "rxnorm",
        "Medication",
        "START",
        {
            "order": "ENCOUNTER",
            "value": "TOTALCOST",
            "quantity": "DISPENSES",
            "context.reason": "REASONDESCRIPTION",
            "context.stop": "STOP",
        },
    ),
    Kind(
        "procedures.csv",
        "procedure",
        "snomed",
        "Procedure",
        "START",
        {"order": "ENCOUNTER", "value": "BASE_COST", "context.reason": "REASONDESCRIPTION"},
    ),
    Kind(
        "immunizations.csv",
        "immunization",
        "cvx",
        "Immunization",
        "DATE",
        {"order": "ENCOUNTER", "value": "BASE_COST"},
    ),
    Kind(
        "observations.csv",
        "observation",
        "loinc",
        "Observation: {}",
        "DATE",
        {
            "order": "ENCOUNTER",
            "context.category": "CATEGORY",
            "context.value": "VALUE",
            "context.units": "UNITS",
        },
        category_column="CATEGORY",
    ),
    Kind(
        "careplans.csv",
        "care_plan",
        "snomed",
        "Care plan",
        "START",
        {
            "order": "ENCOUNTER",
            "context.stop": "STOP",
            "context.reason": "REASONDESCRIPTION",
            "context.plan": "Id",
        },
    ),
)


def _folder(path: Path) -> Path:
    folder = path if path.is_dir() else path.parent
    names = [PATIENT_FILE, *(k.file for k in KINDS)]
    if not any((folder / name).exists() for name in names):
        raise DataError(
            f"{path}: not a Synthea CSV export (none of {', '.join(names)} in {folder})",
            field="file",
        )
    return folder


def _blank_to_none(series: pd.Series) -> pd.Series:
    text = series.astype("object")
    return text.where(text.str.strip() != "", None)


def _event_transform(kind: Kind) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def transform(frame: pd.DataFrame) -> pd.DataFrame:
        missing = [
            c
            for c in ("PATIENT", "CODE", kind.time, *kind.mapping.values())
            if c not in frame.columns
        ]
        if missing:
            raise DataError(
                f"{kind.file}: column(s) {', '.join(map(repr, missing))} missing; is this a "
                "Synthea CSV export (v3 layout)?",
                field="file",
            )
        code = _blank_to_none(frame["CODE"])
        frame[ITEM_COLUMN] = (kind.system + ":" + code.str.strip()).where(code.notna(), None)
        for key, column in kind.mapping.items():
            if key.startswith("context."):
                frame[column] = _blank_to_none(frame[column])
        if kind.type == "observation" and "TYPE" in frame.columns:
            numbers = pd.to_numeric(frame["VALUE"], errors="coerce")
            numeric = (frame["TYPE"] == "numeric") & numbers.notna()
            values = frame["VALUE"].astype("object").copy()
            values[numeric] = numbers[numeric].astype(float)
            frame["VALUE"] = values
        return frame

    return transform


def _event_sources(folder: Path) -> list[EventSource]:
    sources = []
    for kind in KINDS:
        file = folder / kind.file
        if not file.exists():
            continue
        sources.append(
            EventSource(
                path=file,
                mapping={
                    "customer": "PATIENT",
                    "time": kind.time,
                    "item": ITEM_COLUMN,
                    **kind.mapping,
                },
                defaults=EventDefaults(type=kind.type, channel=CHANNEL),
                csv=CsvOptions(sep=","),
                transform=_event_transform(kind),
            )
        )
    return sources


def _most_common(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    counts = frame.groupby([key, value]).size().rename("n").reset_index()
    counts = counts.sort_values([key, "n", value], ascending=[True, False, True])
    return counts.drop_duplicates(key).set_index(key)[value]


def _items(folder: Path) -> Iterable[dict[str, Any]]:
    parts = []
    for kind in KINDS:
        file = folder / kind.file
        if not file.exists():
            continue
        columns = ["CODE", "DESCRIPTION"] + ([kind.category_column] if kind.category_column else [])
        frame = read_table(file, CsvOptions(sep=","), columns=columns)
        frame = frame[frame["CODE"].str.strip() != ""]
        if kind.category_column:
            labels = frame[kind.category_column].str.strip()
            category = labels.map(
                lambda label, k=kind: (
                    k.category.format(label) if label else k.category.split(":")[0]
                )
            )
        else:
            category = pd.Series(kind.category, index=frame.index)
        parts.append(
            pd.DataFrame(
                {
                    "item_id": kind.system + ":" + frame["CODE"].str.strip(),
                    "system": kind.system,
                    "code": frame["CODE"].str.strip(),
                    "description": frame["DESCRIPTION"].str.strip(),
                    "category": category,
                }
            )
        )
    if not parts:
        return
    codes = pd.concat(parts, ignore_index=True)
    titles = _most_common(codes[codes["description"] != ""], "item_id", "description")
    categories = codes.drop_duplicates(["item_id", "category"]).groupby("item_id")["category"]
    first = codes.drop_duplicates("item_id").set_index("item_id")
    for item, labels in categories:
        yield {
            "item_id": str(item),
            "title": titles.get(item),
            "categories": sorted(labels),
            "attributes": {
                "system": SYSTEM_NAMES[str(first.at[item, "system"])],
                "code": str(first.at[item, "code"]),
            },
        }


def _customers(file: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    frame = read_table(file, CsvOptions(sep=","))
    missing = [c for c in ("Id", *PATIENT_ATTRIBUTES) if c not in frame.columns]
    if missing:
        raise DataError(f"{file}: column(s) {', '.join(missing)} missing", field=PATIENT_FILE)
    for record in frame[["Id", *PATIENT_ATTRIBUTES]].to_dict("records"):
        attributes: dict[str, Any] = {}
        for column, name in PATIENT_ATTRIBUTES.items():
            text = str(record[column]).strip()
            if not text:
                continue
            if name in NUMERIC_ATTRIBUTES:
                number = pd.to_numeric(text, errors="coerce")
                if pd.isna(number):
                    raise DataError(
                        f"{file}: patient {record['Id']}: {column} {text!r} is not a number",
                        field=column,
                    )
                attributes[name] = round(float(number), 2)
            else:
                attributes[name] = text
        attributes["deceased"] = "deathdate" in attributes
        yield str(record["Id"]).strip(), attributes


def plan(path: Path) -> ImportPlan:
    """The import plan of a Synthea CSV export.

    Parameters
    ----------
    path : Path
        The export folder, or any CSV file in it.

    Returns
    -------
    ImportPlan
        Care events of the six event files present, the codes as items and the patients (without
        direct identifiers) as customers.

    Raises
    ------
    DataError
        Not a Synthea export; while importing: a missing column or a bad number.
    """
    folder = _folder(path)
    patients = folder / PATIENT_FILE
    return ImportPlan(
        sources=_event_sources(folder),
        items=lambda: list(_items(folder)),
        customers=(lambda: list(_customers(patients))) if patients.exists() else None,
        name=f"synthea:{folder.name}",
    )
