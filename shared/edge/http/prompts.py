"""HTTP: the prompt registry, a tenant's overrides, reviews of outputs and version reports.

- ``GET /api/v1/ai/prompts`` (``usage:read``): every template, its versions and traffic shares.
- ``GET /api/v1/ai/prompts/{template_id}`` (``usage:read``): each version in full.
- ``GET|PUT|DELETE /api/v1/ai/prompts/{template_id}/overrides`` (``prompts:manage``, admin).
- ``POST /api/v1/ai/prompts/{template_id}/preview`` (``prompts:manage``): the rendered request.
- ``POST /api/v1/ai/prompts/{template_id}/outcomes`` (``workflows:decide``): a review.
- ``GET /api/v1/ai/prompts/{template_id}/report?since=YYYY-MM-DD`` (``usage:read``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, RootModel, StringConstraints, WithJsonSchema

from shared.ai.prompts.overrides import OverrideStore, validate_overrides
from shared.ai.prompts.registry import default_registry, parse_version
from shared.ai.prompts.service import prepare, record_outcome, template_report
from shared.core.auth.rbac import Permission
from shared.core.web.contract import (
    Fields,
    Int,
    IsoDate,
    Query,
    Request,
    ResponseBody,
    ShortText,
    Text,
)
from shared.core.web.http import Route

if TYPE_CHECKING:
    from shared.ai.prompts.registry import PromptTemplate
    from shared.edge.http import Ctx


REPORT_DAYS = 366
_TEMPLATES = default_registry().ids()


def _known_template(value: str) -> str:
    if value not in _TEMPLATES:
        raise ValueError(f"must be one of {', '.join(_TEMPLATES)}")
    return value


# The registry's templates are part of the contract: an unknown id is malformed input.
TemplateId = Annotated[
    str,
    AfterValidator(_known_template),
    WithJsonSchema({"type": "string", "enum": _TEMPLATES}),
]


class TemplatePath(Request):
    """Which prompt template."""

    template_id: TemplateId


Version = (
    Annotated[Int, Field(ge=1, le=9999)]
    | Annotated[str, StringConstraints(pattern=r"^[vV]?[1-9][0-9]{0,3}$")]
)
OverrideName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class OverridesBody(
    RootModel[
        Annotated[
            dict[OverrideName, Text | Annotated[list[Text], Field(max_length=50)]],
            Field(max_length=20),
        ]
    ]
):
    """Override values by name; which names a template accepts, and their kinds and lengths, are
    in its ``overridable`` (GET the template)."""

    model_config = ConfigDict(
        strict=True, frozen=True, json_schema_extra={"additionalProperties": False}
    )


class PreviewBody(Request):
    """Render a template version with these variables and the tenant's overrides, without calling a
    model."""

    variables: Fields = Field(default_factory=dict)
    version: Version | None = Field(None, description='A version (2 or "v2"); default: routed')
    routing_key: ShortText | None = Field(None, description="The key traffic shares hash")


class OutcomeBody(Request):
    """A reviewer's verdict on an output of a template version (approved, edited, rejected)."""

    version: Version
    outcome: Literal["approved", "edited", "rejected"]
    ref: ShortText = Field(min_length=1, description="What was reviewed: a call or run id")


class ReportQuery(Query):
    """The first day of a template's version report."""

    since: IsoDate | None = Field(
        None,
        description=f"First day (default: 30 days ago; an earlier day than {REPORT_DAYS} days "
        f"ago counts as {REPORT_DAYS} days ago)",
    )


class TemplateVersions(ResponseBody):
    """A template's versions and the share of traffic each gets."""

    template_id: str
    traffic_percent: dict[str, int] = Field(description="Percent of traffic per version")
    versions: list[dict[str, Any]]


class TemplateList(ResponseBody):
    """Every prompt template with its versions."""

    templates: list[TemplateVersions]


class Overrides(ResponseBody):
    """A tenant's overrides of a template: what may be overridden, the values set, and their
    revision."""

    template_id: str
    overridable: dict[str, Any]
    values: dict[str, Any]
    revision: int
    updated_by: str | None
    updated_at: datetime | None


class Preview(ResponseBody):
    """A rendered request as it would be sent: template version, tier, output limit and messages."""

    template: str
    tier: str
    max_tokens: int
    system: str | None
    messages: list[dict[str, Any]]
    response_schema: dict[str, Any] | None


class Outcome(ResponseBody):
    """The recorded review outcome."""

    template_id: str
    recorded_by: str


class Report(ResponseBody):
    """A template's versions compared: calls, cost, latency, schema validity and review outcomes."""

    template_id: str


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


def _shares(tid: str) -> dict[str, int]:
    # Versions are numbers; JSON object keys are strings.
    return {str(v): p for v, p in default_registry().shares(tid).items()}


def list_prompts(ctx: Ctx) -> tuple[TemplateList, int]:
    """``GET /api/v1/ai/prompts``: Every prompt template, its versions and traffic shares."""
    registry = default_registry()
    templates = [
        {
            "template_id": tid,
            "traffic_percent": _shares(tid),
            "versions": [_describe(t, full=False) for t in registry.versions(tid)],
        }
        for tid in registry.ids()
    ]
    return TemplateList.model_validate({"templates": templates}), 200


def get_prompt(ctx: Ctx) -> tuple[TemplateVersions, int]:
    """``GET /api/v1/ai/prompts/{template_id}``: Each version of one prompt template in full."""
    registry = default_registry()
    tid = ctx.params["template_id"]
    versions = [_describe(t, full=True) for t in registry.versions(tid)]
    return TemplateVersions.model_validate(
        {"template_id": tid, "traffic_percent": _shares(tid), "versions": versions}
    ), 200


def _overrides_view(tid: str, saved: dict[str, Any]) -> Overrides:
    template = default_registry().get(tid)
    return Overrides.model_validate(
        {
            "template_id": tid,
            "overridable": {k: v.model_dump() for k, v in template.overridable.items()},
            "values": saved.get("values", {}),
            "revision": saved.get("revision", 0),
            "updated_by": saved.get("updated_by"),
            "updated_at": saved.get("updated_at"),
        }
    )


def get_overrides(ctx: Ctx) -> tuple[Overrides, int]:
    """``GET /api/v1/ai/prompts/{template_id}/overrides``: The tenant's overrides of a template
    (admin)."""
    tid = ctx.params["template_id"]
    default_registry().get(tid)
    return _overrides_view(tid, OverrideStore(ctx.scope).get(tid)), 200


def put_overrides(ctx: Ctx) -> tuple[Overrides, int]:
    """``PUT /api/v1/ai/prompts/{template_id}/overrides``: Set the tenant's overrides of a template,
    validated against what it declares (admin)."""
    tid = ctx.params["template_id"]
    body = dict(ctx.body(OverridesBody).root)
    # Every version of the template must accept the values: traffic may reach any of them.
    clean: dict[str, Any] = {}
    for template in default_registry().versions(tid):
        clean = validate_overrides(template, body, tenant_id=ctx.tenant_id)
    saved = OverrideStore(ctx.scope).put(tid, clean, updated_by=ctx.principal.subject)
    return _overrides_view(tid, saved), 200


def delete_overrides(ctx: Ctx) -> tuple[Overrides, int]:
    """``DELETE /api/v1/ai/prompts/{template_id}/overrides``: Drop the tenant's overrides of a
    template (admin)."""
    tid = ctx.params["template_id"]
    default_registry().get(tid)
    OverrideStore(ctx.scope).delete(tid)
    return _overrides_view(tid, {}), 200


def preview(ctx: Ctx) -> tuple[Preview, int]:
    """``POST /api/v1/ai/prompts/{template_id}/preview``: The request a template sends for given
    variables with the tenant's overrides (admin)."""
    body = ctx.body(PreviewBody)
    rendered = prepare(
        ctx.scope,
        ctx.params["template_id"],
        dict(body.variables),
        version=parse_version(body.version) if body.version is not None else None,
        routing_key=body.routing_key,
    )
    req = rendered.request
    return Preview.model_validate(
        {
            "template": rendered.template.ref,
            "tier": req.tier,
            "max_tokens": req.max_tokens,
            "system": req.system,
            "messages": [
                m.model_dump(include={"role", "content", "trusted"}) for m in req.messages
            ],
            "response_schema": req.response_schema,
        }
    ), 200


def post_outcome(ctx: Ctx) -> tuple[Outcome, int]:
    """``POST /api/v1/ai/prompts/{template_id}/outcomes``: Record a reviewer's decision on one
    output: approved, edited or rejected."""
    body = ctx.body(OutcomeBody)
    doc = record_outcome(
        ctx.scope,
        ctx.params["template_id"],
        parse_version(body.version),
        body.outcome,
        ref=body.ref,
    )
    return Outcome.model_validate({**doc, "recorded_by": ctx.principal.subject}), 201


def get_report(ctx: Ctx) -> tuple[Report, int]:
    """``GET /api/v1/ai/prompts/{template_id}/report``: Tokens, cost, latency, error, schema-valid
    and approval rates per template version."""
    today = datetime.now(UTC).date()
    since_day = max(
        ctx.query(ReportQuery).since or today - timedelta(30), today - timedelta(REPORT_DAYS)
    )
    since = datetime(since_day.year, since_day.month, since_day.day, tzinfo=UTC)
    report = template_report(ctx.scope, ctx.params["template_id"], since=since)
    return Report.model_validate(report), 200


_BASE = "/api/v1/ai/prompts"
_ONE = _BASE + "/{template_id}"
ROUTES = (
    Route("GET", _BASE, Permission.USAGE_READ, list_prompts, response=TemplateList),
    Route(
        "GET", _ONE, Permission.USAGE_READ, get_prompt, path=TemplatePath, response=TemplateVersions
    ),
    Route(
        "GET",
        _ONE + "/overrides",
        Permission.PROMPTS_MANAGE,
        get_overrides,
        path=TemplatePath,
        response=Overrides,
    ),
    Route(
        "PUT",
        _ONE + "/overrides",
        Permission.PROMPTS_MANAGE,
        put_overrides,
        path=TemplatePath,
        body=OverridesBody,
        response=Overrides,
    ),
    Route(
        "DELETE",
        _ONE + "/overrides",
        Permission.PROMPTS_MANAGE,
        delete_overrides,
        path=TemplatePath,
        response=Overrides,
    ),
    Route(
        "POST",
        _ONE + "/preview",
        Permission.PROMPTS_MANAGE,
        preview,
        path=TemplatePath,
        body=PreviewBody,
        response=Preview,
    ),
    Route(
        "POST",
        _ONE + "/outcomes",
        Permission.WORKFLOWS_DECIDE,
        post_outcome,
        path=TemplatePath,
        body=OutcomeBody,
        response=Outcome,
        status=201,
    ),
    Route(
        "GET",
        _ONE + "/report",
        Permission.USAGE_READ,
        get_report,
        path=TemplatePath,
        query=ReportQuery,
        response=Report,
    ),
)
