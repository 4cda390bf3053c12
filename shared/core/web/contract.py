"""The building blocks of the API contract: the models every route's request and response use.

Request models are strict (a JSON string is never read as a number) and refuse unknown fields, so
what the OpenAPI document says is exactly what the edge accepts. Every string, list and free-form
value has a bound, and the bounds are in the models, so they appear in the spec. Free-form JSON
(``JsonObject``) is nested at most :data:`MAX_FREE_DEPTH` levels by its type, which keeps every
accepted body shallow; deeper documents are refused by the parser (see :mod:`shared.core.web.http`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    WithJsonSchema,
)
from typing_extensions import TypeAliasType

# Bodies above this size are refused with 413 unless the route declares a larger limit.
DEFAULT_MAX_BODY = 64 * 1024
MAX_IDEMPOTENCY_KEY = 200
MAX_FREE_DEPTH = 3
MAX_FREE_KEYS = 50
MAX_FREE_ITEMS = 50
MAX_FREE_STRING = 4000

# One path segment of a Firestore document id: what ``shared.core.store.base.check_segment`` accepts,
# starting with a letter or digit so that "." / ".." and Firestore's reserved "__x__" are excluded.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@:+\-]{0,255}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=256)]
Text = Annotated[str, StringConstraints(max_length=MAX_FREE_STRING)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Day = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


def _whole(value: object) -> object:
    # JSON Schema counts 3.0 as an integer; strict pydantic would not, so the two would disagree.
    return int(value) if isinstance(value, float) and value.is_integer() else value


# A whole number in a strict body: 3 or 3.0, never "3" or 3.5.
Int = Annotated[int, BeforeValidator(_whole)]
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?"
)


def _iso_day(value: object) -> date:
    # Only YYYY-MM-DD: pydantic's own date parsing would also take a Unix time.
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError("must be a date YYYY-MM-DD")
    return date.fromisoformat(value)


def _iso_instant(value: object) -> datetime:
    if not isinstance(value, str) or not _INSTANT.fullmatch(value):
        raise ValueError("must be an ISO 8601 date or date-time")
    found = datetime.fromisoformat(value)
    return found if found.tzinfo else found.replace(tzinfo=UTC)


IsoDate = Annotated[
    date, BeforeValidator(_iso_day), WithJsonSchema({"type": "string", "format": "date"})
]
# A date or a date-time (UTC when no offset is given).
IsoInstant = Annotated[
    datetime,
    BeforeValidator(_iso_instant),
    WithJsonSchema({"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}),
]

Scalar: TypeAlias = Text | int | float | bool | None


def _nested(name: str, depth: int, items: int, chars: int) -> Any:
    """A JSON value nested at most ``depth`` levels below it, each level a named schema (so the
    spec grows with the depth, not with its power of two)."""
    scalar: Any = Annotated[str, StringConstraints(max_length=chars)] | int | float | bool | None
    inner = scalar
    for level in range(1, depth + 1):
        inner = TypeAliasType(  # type: ignore[misc]
            f"{name}{level}",
            scalar
            | Annotated[list[inner], Field(max_length=items)]  # type: ignore[valid-type]
            | Annotated[dict[str, inner], Field(max_length=items)],  # type: ignore[valid-type]
        )
    return inner


if TYPE_CHECKING:
    JsonObject = dict[str, Any]
    JsonDocument = Any
else:
    # A JSON object nested at most three levels, with bounded keys, items and strings.
    JsonObject = Annotated[
        dict[str, _nested("Json", 2, MAX_FREE_ITEMS, MAX_FREE_STRING)],
        Field(max_length=MAX_FREE_KEYS),
    ]
    # A JSON document (knowledge content): nested at most five levels, 500 items or keys a
    # level; larger documents go in as text.
    JsonDocument = _nested("JsonDoc", 5, 500, 20_000)
# A flat record: field name to a scalar (lead fields, template variables).
Fields = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], Scalar],
    Field(max_length=200),
]


# Every model defers building its validator to first use: a function imports many routes' models
# and serves a few (cold starts matter); response models are only ever built for the spec.
class Request(BaseModel):
    """A request body or query: strict types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


U = TypeVar("U")


class OneOf(RootModel[U], Generic[U]):
    """A body that is one of several shapes, told apart by a field (a discriminated union). Error
    locations leave out the shape's tag, so they name the field as the caller wrote it."""

    model_config = ConfigDict(strict=True, frozen=True, defer_build=True)


class Query(BaseModel):
    """Query parameters arrive as text, so numbers are parsed; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class ResponseBody(BaseModel):
    """A response body: the fields listed are always there; later fields may be added."""

    model_config = ConfigDict(extra="allow", defer_build=True)


class JobBody(Request):
    """A scheduled job's body: which job, and optionally the one tenant it covers."""

    tenant_id: Id | None = None


class ErrorDetail(BaseModel):
    """The error of a failed request: a stable code, a message, and the field at fault when there is
    one."""

    code: str = Field(description="Stable machine code, e.g. invalid_input, not_found")
    message: str = Field(description="What went wrong, for a person")
    field: str | None = Field(
        default=None, description="The input at fault, as a path: leads[3].fields.employees"
    )
    details: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """Every error the API answers has this shape."""

    error: ErrorDetail
    request_id: str | None = None


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input; `error.field` names the field and `error.message` the reason",
    401: "Missing, expired or invalid token",
    402: "The tenant's LLM budget cannot cover this request",
    403: "The role may not do this, or the tenant is not the caller's",
    404: "Not found in this tenant",
    405: "The method is not allowed on this path",
    409: "Conflicts with the current state (stale task, concurrent decision)",
    413: "The body is larger than this operation accepts",
    422: "The request fits the schema but breaks a rule the schema cannot state (this "
    "template's variables, `from` after `to`, a cursor this API did not return, an idempotency "
    "key reused with another body, a guard refused the prompt); `error.field` names the input",
    429: "Too many requests; retry after `Retry-After` seconds",
    502: "An LLM provider answered with an error",
    503: "A dependency is unavailable; retry after `Retry-After` seconds",
}
