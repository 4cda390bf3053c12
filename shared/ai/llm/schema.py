"""Whether a structured answer matches the JSON schema it was asked for (reported per call, so
prompt versions can be compared on their schema-valid rate)."""

from __future__ import annotations

from typing import Any


def matches_schema(schema: dict[str, Any], value: Any) -> bool:
    """True when ``value`` is valid against ``schema`` (jsonschema, imported on first use)."""
    if value is None:
        return False
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema)
    return not any(True for _ in validator_cls(schema).iter_errors(value))
