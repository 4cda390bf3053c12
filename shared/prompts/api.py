"""HTTP: the prompt registry, a tenant's overrides, reviews of outputs and version reports.

- ``GET /api/v1/ai/prompts`` (``usage:read``): every template, its versions and traffic shares.
- ``GET /api/v1/ai/prompts/{template_id}`` (``usage:read``): each version in full.
- ``GET|PUT|DELETE /api/v1/ai/prompts/{template_id}/overrides`` (``prompts:manage``, admin).
- ``POST /api/v1/ai/prompts/{template_id}/preview`` (``prompts:manage``): the rendered request.
- ``POST /api/v1/ai/prompts/{template_id}/outcomes`` (``workflows:decide``): a review.
- ``GET /api/v1/ai/prompts/{template_id}/report?since=YYYY-MM-DD`` (``usage:read``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.auth.rbac import Permission
from shared.errors import InvalidInput
from shared.prompts.overrides import OverrideStore, validate_overrides
from shared.prompts.registry import default_registry, parse_version
from shared.prompts.service import prepare, record_outcome, template_report
from shared.web.http import Route

if TYPE_CHECKING:
    from shared.prompts.registry import PromptTemplate
    from shared.web.http import RequestContext


def _describe(template: PromptTemplate, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": template.version,
        "ref": template.ref,
        "description": template.description,
        "tier": template.tier,
        "max_tokens": template.max_tokens,
        "variables": {k: v.model_dump() for k, v in template.variables.items()},
        "overridable": {k: v.model_dump() for k, v in template.overridable.items()},
        "structured": template.output_schema is not None,
    }
    if full:
        out.update(
            system=template.system,
            user=template.user,
            temperature=template.temperature,
            output_schema=template.output_schema,
        )
    return out


def list_prompts(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    registry = default_registry()
    return {
        "templates": [
            {
                "template_id": tid,
                "traffic_percent": registry.shares(tid),
                "versions": [_describe(t, full=False) for t in registry.versions(tid)],
            }
            for tid in registry.ids()
        ]
    }, 200


def get_prompt(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    registry = default_registry()
    tid = ctx.params["template_id"]
    return {
        "template_id": tid,
        "traffic_percent": registry.shares(tid),
        "versions": [_describe(t, full=True) for t in registry.versions(tid)],
    }, 200


def _overrides_view(tid: str, saved: dict[str, Any]) -> dict[str, Any]:
    template = default_registry().get(tid)
    return {
        "template_id": tid,
        "overridable": {k: v.model_dump() for k, v in template.overridable.items()},
        "values": saved.get("values", {}),
        "revision": saved.get("revision", 0),
        "updated_by": saved.get("updated_by"),
        "updated_at": saved.get("updated_at"),
    }


def get_overrides(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    tid = ctx.params["template_id"]
    default_registry().get(tid)
    return _overrides_view(tid, OverrideStore(ctx.scope).get(tid)), 200


def put_overrides(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    tid = ctx.params["template_id"]
    body = ctx.json_body()
    # Every version of the template must accept the values: traffic may reach any of them.
    clean: dict[str, Any] = {}
    for template in default_registry().versions(tid):
        clean = validate_overrides(template, body, tenant_id=ctx.tenant_id)
    saved = OverrideStore(ctx.scope).put(tid, clean, updated_by=ctx.principal.subject)
    return _overrides_view(tid, saved), 200


def delete_overrides(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    tid = ctx.params["template_id"]
    default_registry().get(tid)
    OverrideStore(ctx.scope).delete(tid)
    return _overrides_view(tid, {}), 200


def preview(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.json_body()
    variables = body.get("variables", {})
    if not isinstance(variables, dict):
        raise InvalidInput("variables must be an object", field="variables")
    version = parse_version(body["version"]) if body.get("version") is not None else None
    rendered = prepare(
        ctx.scope,
        ctx.params["template_id"],
        variables,
        version=version,
        routing_key=body.get("routing_key"),
    )
    req = rendered.request
    return {
        "template": rendered.template.ref,
        "tier": req.tier,
        "max_tokens": req.max_tokens,
        "system": req.system,
        "messages": [m.model_dump(include={"role", "content", "trusted"}) for m in req.messages],
        "response_schema": req.response_schema,
    }, 200


def post_outcome(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    body = ctx.json_body()
    for name in ("version", "outcome", "ref"):
        if body.get(name) in (None, ""):
            raise InvalidInput(f"{name} is required", field=name)
    doc = record_outcome(
        ctx.scope,
        ctx.params["template_id"],
        parse_version(body["version"]),
        str(body["outcome"]),
        ref=str(body["ref"])[:200],
    )
    return {**doc, "recorded_by": ctx.principal.subject}, 201


def get_report(ctx: RequestContext) -> tuple[dict[str, Any], int]:
    raw = ctx.request.args.get("since")
    try:
        since_day = date.fromisoformat(raw) if raw else datetime.now(UTC).date() - timedelta(30)
    except ValueError as exc:
        raise InvalidInput(f"since must be a date YYYY-MM-DD (got {raw!r})", field="since") from exc
    since = datetime(since_day.year, since_day.month, since_day.day, tzinfo=UTC)
    return template_report(ctx.scope, ctx.params["template_id"], since=since), 200


_BASE = "/api/v1/ai/prompts"
ROUTES = (
    Route("GET", _BASE, Permission.USAGE_READ, list_prompts),
    Route("GET", _BASE + "/{template_id}", Permission.USAGE_READ, get_prompt),
    Route("GET", _BASE + "/{template_id}/overrides", Permission.PROMPTS_MANAGE, get_overrides),
    Route("PUT", _BASE + "/{template_id}/overrides", Permission.PROMPTS_MANAGE, put_overrides),
    Route(
        "DELETE", _BASE + "/{template_id}/overrides", Permission.PROMPTS_MANAGE, delete_overrides
    ),
    Route("POST", _BASE + "/{template_id}/preview", Permission.PROMPTS_MANAGE, preview),
    Route("POST", _BASE + "/{template_id}/outcomes", Permission.WORKFLOWS_DECIDE, post_outcome),
    Route("GET", _BASE + "/{template_id}/report", Permission.USAGE_READ, get_report),
)
