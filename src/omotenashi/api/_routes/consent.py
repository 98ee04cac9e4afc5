"""Consent and the preference centre: read with a ``read`` key, change with an ``ingest`` key
(what a shop's back end holds to pass on its forms; ``admin`` includes it), and the workspace's
consent model and purposes with an ``admin`` key.

Every change is recorded with the id of the API key that sent it, and drops the customer's
cached answers: the next recommendation or decision obeys it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from omotenashi import services
from omotenashi.api._deps import AdminWorkspace, IngestWorkspace, ReadWorkspace
from omotenashi.api._paths import CustomerId, IdRoute

router = APIRouter(prefix="/v1", tags=["consent"], route_class=IdRoute)

Source = Annotated[str, Field(min_length=1, max_length=100, description="where it came from")]


class PurposeState(BaseModel):
    granted: bool = Field(description="may the data be used for this purpose now")
    answered: bool = Field(description="false: the customer never answered, the default applies")
    at: str | None = None
    source: str | None = None
    key_id: str | None = None


class ConsentChange(BaseModel):
    customer_id: str
    purpose: str
    granted: bool
    source: str
    key_id: str | None
    at: str


class ConsentOut(BaseModel):
    customer_id: str = Field(description="the canonical person")
    model: str = Field(description="opt-out, opt-in or mixed: what applies before an answer")
    purposes: dict[str, PurposeState]
    history: list[ConsentChange] = Field(description="every change, oldest first")


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purposes: dict[str, bool] = Field(
        min_length=1, description='answers by purpose: {"marketing": false}'
    )
    source: Source = "api"


class ConsentRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=40)
    granted: bool
    source: str | None = Field(default=None, max_length=100)


class ConsentBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[ConsentRecord] = Field(min_length=1, max_length=100_000)
    source: Source = "api"


class ConsentBatchOut(BaseModel):
    rows: int
    customers: int


class PurposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(default="", max_length=500)
    granted_by_default: bool | None = Field(default=None, description="else the model's")


class PurposeOut(BaseModel):
    description: str
    granted_by_default: bool
    built_in: bool


class ConsentSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="opt-out (default) or opt-in")
    purposes: dict[str, PurposeIn] = Field(default_factory=dict, description="add or change")


class ConsentSettingsOut(BaseModel):
    model: str
    purposes: dict[str, PurposeOut]


class TasteIO(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[str] = Field(default_factory=list, max_length=1000)
    categories: list[str] = Field(default_factory=list, max_length=1000)


class PreferencesIn(BaseModel):
    """Fields given replace the stored ones (PUT: the others take their defaults)."""

    model_config = ConfigDict(extra="forbid")

    level: str | None = Field(default=None, description="off, light or full")
    interests: TasteIO | None = None
    dislikes: TasteIO | None = None
    channels: dict[str, bool] | None = Field(default=None, description="channel -> allowed")
    frequency: dict[str, int] | None = Field(
        default=None, description="channel -> most contacts per 7 days"
    )
    quiet_hours: list[int] | None = Field(default=None, description="[start, end) local hours")
    time_zone: str | None = Field(default=None, description="IANA, e.g. Europe/Paris")


class PreferencesPatch(PreferencesIn):
    """PATCH: fields given replace the stored ones; ``add`` / ``remove`` change single items
    and categories of the interests and dislikes ("not interested", "more like this")."""

    add: dict[str, TasteIO] | None = Field(default=None, description="interests / dislikes")
    remove: dict[str, TasteIO] | None = Field(default=None, description="interests / dislikes")


class PreferencesOut(BaseModel):
    customer_id: str
    level: str
    interests: TasteIO
    dislikes: TasteIO
    channels: dict[str, bool]
    frequency: dict[str, int]
    quiet_hours: list[int] | None
    time_zone: str | None


def _key_id(request: Request) -> str | None:
    """The id of the API key that sent the request (None without keys)."""
    service = request.app.state.service
    if not service.settings.auth:
        return None
    token = request.headers.get("x-api-key")
    if not token:
        kind, _, credentials = request.headers.get("authorization", "").partition(" ")
        token = credentials if kind.lower() == "bearer" else None
    key = service.keys.authenticate(token) if token else None
    return key.key_id if key is not None else None


def _given(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


@router.get(
    "/customers/{customer_id}/consent", response_model=ConsentOut, summary="A customer's consent"
)
def get_consent(ws: ReadWorkspace, customer_id: CustomerId) -> dict[str, Any]:
    """Per purpose: allowed now or not, whether the customer answered, and every change."""
    return services.customer_consent(ws, customer_id)


@router.put(
    "/customers/{customer_id}/consent",
    response_model=ConsentOut,
    summary="Record a customer's consent",
)
def put_consent(
    ws: IngestWorkspace, request: Request, customer_id: CustomerId, body: ConsentIn
) -> dict[str, Any]:
    """Record answers for the purposes named (the others are unchanged), with the source and
    this key's id in the history. The next recommendation or decision obeys them."""
    return services.change_consent(
        ws, customer_id, body.purposes, source=body.source, key_id=_key_id(request)
    )


@router.post("/consent", response_model=ConsentBatchOut, summary="Record many consent answers")
def post_consent(ws: IngestWorkspace, request: Request, body: ConsentBatchIn) -> dict[str, Any]:
    """Many answers at once, all or nothing: a bad record is refused with its index and field
    and nothing is written."""
    records = [r.model_dump(exclude_none=True) for r in body.records]
    return services.import_consent(ws, records, source=body.source, key_id=_key_id(request))


@router.get("/consent", response_model=ConsentSettingsOut, summary="Consent model and purposes")
def get_consent_settings(ws: ReadWorkspace) -> dict[str, Any]:
    """What applies before a customer answers (opt-out or opt-in), and the purposes."""
    return services.consent_settings(ws)


@router.put(
    "/admin/consent", response_model=ConsentSettingsOut, summary="Set consent model, purposes"
)
def put_consent_settings(ws: AdminWorkspace, body: ConsentSettingsIn) -> dict[str, Any]:
    """Set the model (opt-out: allowed until withdrawn; opt-in: not until granted) and add or
    change the workspace's own purposes. Recorded answers are kept."""
    purposes = {name: spec.model_dump() for name, spec in body.purposes.items()}
    return services.change_consent_settings(ws, body.model, purposes)


@router.get(
    "/customers/{customer_id}/preferences",
    response_model=PreferencesOut,
    summary="A customer's preferences",
)
def get_preferences(ws: ReadWorkspace, customer_id: CustomerId) -> dict[str, Any]:
    """Interests, dislikes, level, channels, frequency, quiet hours and time zone."""
    return services.customer_preferences(ws, customer_id)


@router.put(
    "/customers/{customer_id}/preferences",
    response_model=PreferencesOut,
    summary="Replace a customer's preferences",
)
def put_preferences(
    ws: IngestWorkspace, request: Request, customer_id: CustomerId, body: PreferencesIn
) -> dict[str, Any]:
    """Replace the preferences (fields not given take their defaults)."""
    return services.change_preferences(
        ws, customer_id, _given(body), replace_all=True, key_id=_key_id(request)
    )


@router.patch(
    "/customers/{customer_id}/preferences",
    response_model=PreferencesOut,
    summary="Change some of a customer's preferences",
)
def patch_preferences(
    ws: IngestWorkspace, request: Request, customer_id: CustomerId, body: PreferencesPatch
) -> dict[str, Any]:
    """Change the fields given; ``{"add": {"dislikes": {"items": ["sku-9"]}}}`` is "not
    interested in this item", ``{"add": {"interests": {"items": ["sku-3"]}}}`` "more like
    this". Honoured from the next request."""
    return services.change_preferences(
        ws, customer_id, _given(body), replace_all=False, key_id=_key_id(request)
    )
