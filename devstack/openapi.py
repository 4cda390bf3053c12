"""One source, three outputs: the route table and the routes' pydantic models generate the OpenAPI
3.1 document (``api/openapi.json``), the Swagger 2.0 document API Gateway requires
(``api/swagger2.json``, which Terraform completes with each backend's address) and the local
gateway's routing (it reads ``api/openapi.json``). The WebSocket protocol's models generate
``api/asyncapi.json`` beside them.

    python -m devstack.openapi          # write both files
    python -m devstack.openapi --check  # exit 1 when a committed file is out of date
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import TYPE_CHECKING, Any

from pydantic.json_schema import models_json_schema

from devstack.api_reference import render_reference
from devstack.procs import REPO
from devstack.topology import OPENAPI, function_routes, load_routes
from shared.core.auth.rbac import ROLE_PERMISSIONS, USER_ROLES
from shared.core.web.contract import (
    DEFAULT_MAX_BODY,
    ERROR_DESCRIPTIONS,
    MAX_IDEMPOTENCY_KEY,
    ErrorBody,
)

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

    from shared.core.web.http import Route

SWAGGER = REPO / "api/swagger2.json"
ASYNCAPI = REPO / "api/asyncapi.json"
REFERENCE = REPO / "docs/reference/http-api.md"
REF = "#/components/schemas/{model}"
# Statuses every operation may answer: bad input, no token, role or tenant, rate, unavailable.
COMMON_ERRORS = (400, 401, 403, 422, 429, 503)
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 1},
    }
}

DESCRIPTION = """The AI engine of the CRM: workflows, lead scoring, customer insights, knowledge,
prompts, LLM usage and batches. Generated from the route table and the pydantic models every
request is validated against (`devstack/openapi.py`); do not edit by hand.

**Authentication.** Every operation takes the CRM's JWT as `Authorization: Bearer <token>`
(behind API Gateway it arrives as `X-Forwarded-Authorization`). The token's `tenant_id` scopes
every read and write; its `roles` (viewer, rep, manager, admin) decide what it may do: each
operation names the permission it needs and the roles that have it.

**Limits.** Bodies are JSON of at most {default_kb} KiB unless the operation says otherwise
(`x-max-body-bytes`; 413 beyond it). Strings, lists, maps and numbers carry their bounds in the
schemas below. Free-form JSON (workflow `input`, scoring `fields`) is nested at most three levels,
so no accepted body is deep; a document nested past the parser's limit is refused with 400.
Path ids are 1-256 characters of letters, digits and `_.@:+-`, starting with a letter or digit.

**Errors.** Every error has one shape (`ErrorBody`): `error.code`, `error.message` and, where an
input is at fault, `error.field` as a path such as `leads[3].fields.employees`. 429 and 503 carry
`Retry-After`. Request bodies refuse unknown fields and never coerce types (`"5"` is not 5).

**Streams.** `POST /api/v1/ai/insights/chat` answers `text/event-stream`; its events are listed on
the operation (`x-sse-events`). The WebSocket service's protocol is `api/asyncapi.json`.
"""


def _roles_with(permission: str) -> list[str]:
    return sorted(r.value for r in USER_ROLES if permission in ROLE_PERMISSIONS[r])


def _strip_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the ``null`` branch pydantic gives optional fields."""
    options = schema.get("anyOf")
    if options and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        out = {k: v for k, v in schema.items() if k != "anyOf"}
        if len(rest) == 1:
            out.update(rest[0])
        else:
            out["anyOf"] = rest
        return out
    return schema


def _parameters(model: type[BaseModel] | None, where: str) -> list[dict[str, Any]]:
    if model is None:
        return []
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema.get("properties", {}).items():
        prop = _strip_null({k: v for k, v in prop.items() if k != "title"})
        if prop.get("default", 0) is None:
            del prop["default"]
        param: dict[str, Any] = {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": prop,
        }
        if "description" in prop:
            param["description"] = prop.pop("description")
        out.append(param)
    return out


def _has_required(model: type[BaseModel]) -> bool:
    """Whether a request must carry a body: an empty one is read as ``{}``."""
    try:
        model.model_validate_json(b"{}")
    except ValueError:
        return True
    return False


class _Builder:
    """Collects every body and response model, then writes their schemas once."""

    def __init__(self) -> None:
        self.models: list[tuple[type[BaseModel], str]] = [(ErrorBody, "serialization")]

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, str]:
        if (model, mode) not in self.models:
            self.models.append((model, mode))
        return {"$ref": f"{model.__name__}|{mode}"}  # replaced once names are known

    def schemas(self) -> tuple[dict[tuple[type[BaseModel], str], dict[str, Any]], dict[str, Any]]:
        keys, defs = models_json_schema(
            self.models,  # type: ignore[arg-type]
            ref_template=REF,
        )
        return keys, defs.get("$defs", {})  # type: ignore[return-value]


def _operation(route: Route, meta: dict[str, str], build: _Builder) -> dict[str, Any]:
    permission = route.permission.value
    roles = _roles_with(permission)
    op: dict[str, Any] = {
        "operationId": meta["operation_id"],
        "summary": meta["summary"],
        "description": f"Needs `{permission}` (roles: {', '.join(roles)}).",
        "tags": [meta["function"]],
        "x-function": meta["function"],
        "x-permission": permission,
        "x-roles": roles,
    }
    params = _parameters(route.path_model, "path") + _parameters(route.query, "query")
    if route.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "The same key within a day answers with the same resource "
                "instead of starting another (422 if the body differs)",
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
            }
        )
    if params:
        op["parameters"] = _resolve(params, {})
    if route.body is not None:
        op["requestBody"] = {
            "required": _has_required(route.body),
            "content": {"application/json": {"schema": build.ref(route.body, "validation")}},
        }
        op["x-max-body-bytes"] = route.max_body
        if route.max_body != DEFAULT_MAX_BODY:
            op["description"] += f" Bodies up to {route.max_body // 1024} KiB."
    ok: dict[str, Any] = {"description": "OK" if route.status == 200 else "Accepted or created"}
    if route.stream:
        ok["description"] = "Server-sent events, in this order: " + ", ".join(
            name for name, _ in route.events
        )
        ok["content"] = {
            "text/event-stream": {
                "schema": {
                    "description": "One event: its name, and its data as JSON text",
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["event", "data"],
                            "properties": {
                                "event": {"const": name},
                                "data": {
                                    "type": "string",
                                    "contentMediaType": "application/json",
                                    "contentSchema": build.ref(model, "serialization"),
                                },
                            },
                        }
                        for name, model in route.events
                    ],
                }
            }
        }
        op["x-sse-events"] = [name for name, _ in route.events]
    elif route.response is not None:
        ok["content"] = {"application/json": {"schema": build.ref(route.response, "serialization")}}
    if route.links:
        ok["links"] = {
            target[0].upper() + target[1:]: {"operationId": target, "parameters": params}
            for target, params in route.links.items()
        }
    responses: dict[str, Any] = {str(route.status): ok}
    statuses = set(COMMON_ERRORS) | set(route.errors)
    if route.path_model.model_fields:
        statuses.add(404)
    if route.body is not None:
        statuses.add(413)
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": f"#/components/responses/E{status}"}
    op["responses"] = responses
    return op


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _resolve(node: Any, names: dict[str, str]) -> Any:
    """Placeholder references to their component names; maps whose keys have a pattern get
    ``additionalProperties: false`` (pydantic refuses other keys, the schema must say so)."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node = {**node, "additionalProperties": False}
        if node.get("type") in ("integer", "number"):
            # pydantic writes a bound it applies after a before-validator under its own name
            node = {_BOUNDS.get(k, k): v for k, v in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in names:
            return {"$ref": names[ref]}
        return {k: _resolve(v, names) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, names) for v in node]
    return node


def build_openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route in ``terraform/routes.json``."""
    served = function_routes()
    table = {(r["method"], r["path"]): r for r in load_routes()}
    if set(table) != set(served):
        missing = sorted(set(table) ^ set(served))
        raise SystemExit(f"route table and functions disagree on: {missing}")
    build = _Builder()
    paths: dict[str, dict[str, Any]] = {}
    for key in sorted(table, key=lambda k: (k[1], k[0])):
        method, path = key
        paths.setdefault(path, {})[method.lower()] = _operation(served[key][1], table[key], build)
    keys, defs = build.schemas()
    names = {f"{model.__name__}|{mode}": ref["$ref"] for (model, mode), ref in keys.items()}
    defs = _resolve(defs, {})
    error = {"$ref": names[f"{ErrorBody.__name__}|serialization"]}
    responses = {
        f"E{status}": {
            "description": text,
            "content": {"application/json": {"schema": dict(error)}},
            **({"headers": copy.deepcopy(RETRY_AFTER)} if status in (429, 503) else {}),
        }
        for status, text in ERROR_DESCRIPTIONS.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CRM AI engine",
            "version": "1.0.0",
            "description": DESCRIPTION.format(default_kb=DEFAULT_MAX_BODY // 1024),
        },
        "servers": [{"url": "/", "description": "The API Gateway, or the local gateway"}],
        "security": [{"crm_jwt": []}],
        "paths": _resolve(paths, names),
        "components": {
            "schemas": defs,
            "responses": responses,
            "securitySchemes": {
                "crm_jwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The CRM's RS256 token: tenant_id, roles, sub",
                }
            },
        },
    }


def _swagger_param(param: dict[str, Any]) -> dict[str, Any]:
    schema = param["schema"]
    kind = schema.get("type") or ("integer" if "integer" in json.dumps(schema) else "string")
    out = {"name": param["name"], "in": param["in"], "required": param["required"], "type": kind}
    for key in ("format", "pattern", "minimum", "maximum", "maxLength", "minLength", "enum"):
        if key in schema:
            out[key] = schema[key]
    return out


def build_swagger2(openapi: dict[str, Any]) -> dict[str, Any]:
    """API Gateway's Swagger 2.0 document: the same paths, operations and parameters. It carries
    no body schemas (the gateway does not validate bodies; the functions do) and leaves the
    backend address and the JWT issuer to Terraform (``terraform/modules/api_gateway``)."""
    paths: dict[str, dict[str, Any]] = {}
    for path, ops in openapi["paths"].items():
        for method, op in ops.items():
            paths.setdefault(path, {})[method] = {
                "operationId": op["operationId"],
                "summary": op["summary"],
                "x-function": op["x-function"],
                "parameters": [
                    _swagger_param(p) for p in op.get("parameters", []) if p["in"] != "header"
                ],
                "security": [{"crm_jwt": []}],
                "responses": {
                    code: {
                        "description": (
                            ERROR_DESCRIPTIONS[int(code)]
                            if code.isdigit() and int(code) >= 400
                            else "OK"
                        )
                    }
                    for code in op["responses"]
                },
            }
        # A browser's CORS preflight carries no token: API Gateway passes it, unauthenticated, to
        # the path's function, which answers it for the allowed origins (CORS_ORIGINS).
        first = next(iter(ops.values()))
        paths[path]["options"] = {
            "operationId": f"{first['operationId']}Preflight",
            "summary": "CORS preflight (answered by the function for allowed origins)",
            "x-function": first["x-function"],
            "parameters": [
                _swagger_param(p) for p in first.get("parameters", []) if p["in"] == "path"
            ],
            "security": [],
            "responses": {"204": {"description": "Preflight answered"}},
        }
    return {
        "swagger": "2.0",
        "info": {"title": openapi["info"]["title"], "version": openapi["info"]["version"]},
        "schemes": ["https"],
        "produces": ["application/json"],
        "paths": paths,
    }


def build_asyncapi() -> dict[str, Any]:
    """The WebSocket protocol (AsyncAPI 3.0) from the models in ``shared/capabilities/realtime/messages.py``."""
    from shared.capabilities.realtime import messages

    models = [(m, "serialization") for m in (*messages.CLIENT_MESSAGES, *messages.SERVER_MESSAGES)]
    _, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    schemas = _resolve(defs.get("$defs", {}), {})

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": f"#/components/messages/{model.__name__}"}

    closes = "; ".join(f"{code} {text}" for code, text in messages.CLOSE_CODES.items())
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "CRM AI engine: real-time updates",
            "version": "1.0.0",
            "description": (
                "The WebSocket service (run_services/realtime) streams the caller's tenant's "
                "ai-events that its roles may read. Authenticate with the CRM's JWT: browsers "
                "offer the subprotocols ['bearer', <token>], servers send Authorization: Bearer. "
                f"Close codes: {closes}. Generated by devstack/openapi.py; do not edit."
            ),
        },
        "servers": {
            "local": {"host": "127.0.0.1:8096", "protocol": "ws", "description": "scripts/up"}
        },
        "channels": {
            "stream": {
                "address": "/ws",
                "description": "Every event the caller's roles may read; narrow it with subscribe.",
                "messages": {
                    m.__name__: ref(m)
                    for m in (*messages.CLIENT_MESSAGES, *messages.SERVER_MESSAGES)
                },
            },
            **{
                name: {
                    "address": spec["address"],
                    "description": spec["description"]
                    + " Subscribe takes only last_event_id here (the path is the filter).",
                    "parameters": {
                        param: {"description": text} for param, text in spec["parameters"].items()
                    },
                    "messages": {
                        m.__name__: {
                            **ref(m),
                        }
                        for m in (*messages.CLIENT_MESSAGES, *messages.SERVER_MESSAGES)
                    },
                    "x-example": spec["example"],
                }
                for name, spec in messages.PATHS.items()
            },
        },
        "operations": {
            "receiveUpdates": {
                "action": "send",
                "channel": {"$ref": "#/channels/stream"},
                "summary": "What the server sends",
                "messages": [
                    {"$ref": f"#/channels/stream/messages/{m.__name__}"}
                    for m in messages.SERVER_MESSAGES
                ],
            },
            "sendCommands": {
                "action": "receive",
                "channel": {"$ref": "#/channels/stream"},
                "summary": "What a client may send",
                "messages": [
                    {"$ref": f"#/channels/stream/messages/{m.__name__}"}
                    for m in messages.CLIENT_MESSAGES
                ],
            },
            **{
                f"{name}Updates": {
                    "action": "send",
                    "channel": {"$ref": f"#/channels/{name}"},
                    "summary": spec["description"],
                    "messages": [
                        {"$ref": f"#/channels/{name}/messages/{m.__name__}"}
                        for m in messages.SERVER_MESSAGES
                    ],
                }
                for name, spec in messages.PATHS.items()
            },
        },
        "components": {
            "messages": {
                m.__name__: {
                    "name": m.model_fields["type"].annotation.__args__[0],  # type: ignore[union-attr]
                    "summary": (m.__doc__ or m.__name__).split("\n")[0],
                    "payload": {"$ref": f"#/components/schemas/{m.__name__}"},
                }
                for m in (*messages.CLIENT_MESSAGES, *messages.SERVER_MESSAGES)
            },
            "schemas": schemas,
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=False) + "\n"


def outputs() -> dict[Path, str]:
    openapi = build_openapi()
    return {
        OPENAPI: render(openapi),
        SWAGGER: render(build_swagger2(openapi)),
        ASYNCAPI: render(build_asyncapi()),
        REFERENCE: render_reference(openapi),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args()
    stale = []
    for path, text in outputs().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(REPO)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run scripts/openapi", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
