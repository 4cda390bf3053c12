"""The HTTP API reference page of the docs site (``docs/reference/http-api.md``), rendered from
``api/openapi.json`` by ``scripts/openapi`` so that it cannot drift from the contract: every
operation with its roles, parameters, body and responses, then every schema's fields."""

from __future__ import annotations

import json
from typing import Any

_CONSTRAINTS = (
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("minItems", "min items"),
    ("maxItems", "max items"),
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
    ("pattern", "pattern"),
    ("default", "default"),
)
_METHODS = ("get", "post", "put", "patch", "delete")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: dict[str, Any]) -> str:
    """A schema as a short type expression, schemas linked to their section."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](#{name.lower()})"
    for key, sep in (("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")):
        if key in schema:
            parts = [type_of(s) for s in schema[key] if s.get("type") != "null"]
            nullable = any(s.get("type") == "null" for s in schema[key])
            return sep.join(parts) + (" or null" if nullable else "")
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {type_of(schema['additionalProperties'])}"
    return str(kind)


def _constraints(schema: dict[str, Any]) -> str:
    inner = schema
    for key in ("anyOf", "oneOf"):
        if key in schema:
            inner = next((s for s in schema[key] if s.get("type") != "null"), schema)
    found = [
        f"{label} `{json.dumps(inner.get(key, schema.get(key)))}`"
        for key, label in _CONSTRAINTS
        if key in inner or key in schema
    ]
    return ", ".join(found)


def _operation(method: str, path: str, op: dict[str, Any], shared: dict[str, Any]) -> list[str]:
    out = [f"### `{method.upper()} {path}`", "", op.get("summary", ""), ""]
    roles = op.get("x-roles")
    if roles:
        out += [f"Permission `{op['x-permission']}`: {', '.join(roles)}.", ""]
    elif op.get("security") == []:
        out += ["No token needed.", ""]
    params = op.get("parameters", [])
    if params:
        out += [
            "| parameter | in | type | required | constraints and notes |",
            "| --- | --- | --- | --- | --- |",
        ]
        for p in params:
            notes = "; ".join(x for x in (_constraints(p["schema"]), p.get("description", "")) if x)
            out.append(
                f"| `{p['name']}` | {p['in']} | {_cell(type_of(p['schema']))} | "
                f"{'yes' if p.get('required') else 'no'} | {_cell(notes)} |"
            )
        out.append("")
    body = op.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        limit = op.get("x-max-body-bytes")
        size = f" (at most {limit:,} bytes)" if limit else ""
        out += [f"Body `{media}`{size}: {type_of(content.get('schema', {}))}", ""]
    out += ["| status | answer |", "| --- | --- |"]
    for status, response in op.get("responses", {}).items():
        response = shared.get(_ref_name(response["$ref"]), {}) if "$ref" in response else response
        content = response.get("content", {})
        shapes = [f"`{m}` {type_of(c.get('schema', {}))}" for m, c in content.items()]
        answer = response.get("description", "") + (": " + ", ".join(shapes) if shapes else "")
        out.append(f"| {status} | {_cell(answer)} |")
    return [*out, ""]


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    out = [f"### {name}", ""]
    if schema.get("description"):
        out += [" ".join(schema["description"].split()), ""]
    props = schema.get("properties", {})
    if not props:
        return [*out, f"Type: {type_of({k: v for k, v in schema.items() if k != 'title'})}", ""]
    required = set(schema.get("required", []))
    out += [
        "| field | type | required | constraints | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for field, spec in props.items():
        out.append(
            f"| `{field}` | {_cell(type_of(spec))} | {'yes' if field in required else 'no'} | "
            f"{_cell(_constraints(spec))} | {_cell(spec.get('description', ''))} |"
        )
    if schema.get("additionalProperties") is False:
        out.append("\nNo other field is accepted.")
    return [*out, ""]


def render_reference(openapi: dict[str, Any]) -> str:
    info = openapi["info"]
    lines = [
        "# HTTP API reference",
        "",
        f"{info['title']} {info['version']}, OpenAPI {openapi['openapi']}. Generated from",
        "`api/openapi.json` by `./scripts/openapi` (a test fails when it is stale); the local",
        "gateway serves the same contract interactively at `/docs`. Every operation takes a",
        "CRM bearer token (JWT) unless it says otherwise; errors share one body, `ErrorBody`.",
        "",
        "## Operations",
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in openapi["paths"].items():
        for method in _METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((method, path, item[method]))
    for tag in sorted(by_tag):
        lines += [f"Served by `{tag}`:", ""]
        for method, path, op in by_tag[tag]:
            lines += _operation(method, path, op, openapi["components"].get("responses", {}))
    lines += ["## Schemas", ""]
    for name, schema in sorted(openapi["components"]["schemas"].items()):
        lines += _schema(name, schema)
    return "\n".join(lines).rstrip() + "\n"
