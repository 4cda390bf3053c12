"""Turning raw message bytes into a :class:`CrmEvent`, with errors that name the field."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import ValidationError

from shared.capabilities.crm.envelope import CrmEvent
from shared.core.errors import InvalidInput

if TYPE_CHECKING:
    from shared.capabilities.crm.envelope import _Payload


def _first_error(exc: ValidationError, prefix: str = "") -> InvalidInput:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
    field = f"{prefix}{loc}" if loc else prefix.rstrip(".") or None
    msg = err["msg"].removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return InvalidInput(f"{field or 'event'}: {msg}{more}", field=field)


def parse_event(raw: bytes) -> tuple[CrmEvent, _Payload]:
    """Decode and validate one CRM event.

    Raises:
        InvalidInput: not JSON, not an object, or a field fails validation; ``field`` names it
            (``payload.email`` for a payload field).
    """
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"message data is not JSON: {exc}", field="data") from exc
    if not isinstance(obj, dict):
        raise InvalidInput("message data must be a JSON object", field="data")
    try:
        event = CrmEvent.model_validate(obj)
    except ValidationError as exc:
        raise _first_error(exc) from exc
    try:
        payload = event.typed_payload()
    except ValidationError as exc:
        raise _first_error(exc, "payload.") from exc
    return event, payload
