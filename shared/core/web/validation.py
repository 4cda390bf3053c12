"""Reading and validating a request's parts against a route's models: the body (with its size
limit), the query string, the path parameters and the ``Idempotency-Key`` header. A validation
error becomes one :class:`~shared.core.errors.InvalidInput` that names the field as the caller
wrote it (``leads[3].fields.employees``), with every reason in its details."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from shared.core.errors import InvalidInput, PayloadTooLarge
from shared.core.web.contract import MAX_IDEMPOTENCY_KEY, OneOf

if TYPE_CHECKING:
    import flask

M = TypeVar("M", bound=BaseModel)


def read_body(request: flask.Request, max_body: int) -> bytes:
    """The raw body, refused with 413 past the route's limit before more of it is read."""
    declared = request.content_length
    if declared is not None and declared > max_body:
        raise PayloadTooLarge(
            f"the body may hold at most {max_body} bytes (got {declared})", field="body"
        )
    raw = request.stream.read(max_body + 1)  # no Content-Length: read at most the limit
    if len(raw) > max_body:
        raise PayloadTooLarge(f"the body may hold at most {max_body} bytes", field="body")
    return raw


def check_idempotency_key(key: str | None) -> None:
    """Refuse an ``Idempotency-Key`` header of the wrong length (400 naming the header)."""
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(
            f"Idempotency-Key must hold 1-{MAX_IDEMPOTENCY_KEY} characters", field="Idempotency-Key"
        )


def parse_body(model: type[M], raw: bytes) -> M:
    """The JSON body as ``model`` (an empty body as ``{}``); 400 naming the first field at fault."""
    try:
        return model.model_validate_json(raw if raw.strip() else b"{}")
    except ValidationError as exc:
        raise invalid_input(exc, tagged=issubclass(model, OneOf)) from None


def parse_query(model: type[M], request: flask.Request) -> M:
    """The query string as ``model``; 400 naming the parameter at fault."""
    try:
        return model.model_validate(request.args.to_dict(flat=True))
    except ValidationError as exc:
        raise invalid_input(exc) from None


def validated_path(path_model: type[BaseModel], params: dict[str, str]) -> dict[str, str]:
    """The path parameters checked against the route's path model; 400 naming the one at fault."""
    try:
        return {k: str(v) for k, v in path_model.model_validate(params).model_dump().items()}
    except ValidationError as exc:
        raise invalid_input(exc) from None


def field_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as the caller wrote it: ``leads[3].fields.employees``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def invalid_input(exc: ValidationError, *, tagged: bool = False) -> InvalidInput:
    """The first field at fault (with every reason, up to ten, in ``details``).

    A value that matches none of a union's types is reported once, at the value, rather than once
    per type tried: the field is the common part of the locations pydantic gives for it. In a
    ``tagged`` body (:class:`~shared.core.web.contract.OneOf`) the shape's tag leads each location and
    is left out."""
    errors = exc.errors(include_url=False, include_input=False)
    if tagged:
        for error in errors:
            if len(error["loc"]) > 1:
                error["loc"] = error["loc"][1:]
            elif error["type"] in ("union_tag_invalid", "union_tag_not_found"):
                error["loc"] = (str(error.get("ctx", {}).get("discriminator", "")).strip("'"),)
    first = errors[0]
    group = [e["loc"] for e in errors if e["loc"][:1] == first["loc"][:1]]
    common: list[int | str] = []
    for parts in zip(*group, strict=False):
        if len(set(parts)) > 1:
            break
        common.append(parts[0])
    loc = common if len(group) > 1 else list(first["loc"])
    name = field_path(loc) or "body"
    reason = (
        "does not match any of the allowed types"
        if len(group) > 1 and len(common) < len(first["loc"])
        else _reason(first["msg"])
    )
    if first["type"] == "json_invalid":
        reason = f"not valid JSON ({first['ctx']['error']})" if first.get("ctx") else first["msg"]
    details = [
        {"field": field_path(e["loc"]) or "body", "reason": _reason(e["msg"])} for e in errors[:10]
    ]
    return InvalidInput(f"{name}: {reason}", field=name, errors=details)


def _reason(msg: str) -> str:
    return msg.removeprefix("Value error, ")
