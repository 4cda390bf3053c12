"""Running templates for a tenant, recording what reviewers did with the output, and comparing
versions.

Every call made through :func:`run_prompt` carries the template id and version into its usage
record; :func:`record_outcome` stores a human review (approved unchanged, edited, rejected) of
one output; :func:`template_report` puts both side by side per version.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from shared.ai.llm.types import CallContext
from shared.ai.prompts.overrides import OverrideStore
from shared.ai.prompts.registry import default_registry
from shared.ai.prompts.render import render
from shared.core.errors import InvalidInput

if TYPE_CHECKING:
    from shared.ai.llm.client import LLMClient
    from shared.ai.llm.types import LLMResponse
    from shared.ai.prompts.registry import Registry
    from shared.ai.prompts.render import RenderedPrompt
    from shared.core.tenancy.scope import TenantStore

Outcome = Literal["approved", "edited", "rejected"]
OUTCOMES: tuple[str, ...] = ("approved", "edited", "rejected")


def prepare(
    scope: TenantStore,
    template_id: str,
    variables: dict[str, Any],
    *,
    routing_key: str | None = None,
    version: int | None = None,
    registry: Registry | None = None,
) -> RenderedPrompt:
    """Render the version this routing key gets (or ``version``) with the tenant's overrides."""
    registry = registry or default_registry()
    template = (
        registry.get(template_id, version)
        if version is not None
        else registry.choose(template_id, routing_key)
    )
    return render(template, variables, OverrideStore(scope).values(template_id))


def call_context(
    rendered: RenderedPrompt, tenant_id: str, *, feature: str, crm_object: str | None = None
) -> CallContext:
    """The :class:`CallContext` for a rendered prompt: cost booked to its template version, feature
    and CRM object."""
    return CallContext(
        tenant_id=tenant_id,
        feature=feature,
        crm_object=crm_object,
        template_id=rendered.template_id,
        template_version=str(rendered.version),
    )


def run_prompt(
    client: LLMClient,
    scope: TenantStore,
    template_id: str,
    variables: dict[str, Any],
    *,
    feature: str | None = None,
    crm_object: str | None = None,
    routing_key: str | None = None,
) -> tuple[RenderedPrompt, LLMResponse]:
    """One call of a template for a tenant; the usage record names the template version.

    Raises:
        InvalidInput, NotFound, and what :meth:`LLMClient.complete` raises.
    """
    rendered = prepare(scope, template_id, variables, routing_key=routing_key or crm_object)
    ctx = call_context(
        rendered,
        scope.tenant_id,
        feature=feature or rendered.template.feature,
        crm_object=crm_object,
    )
    return rendered, client.complete(rendered.request, ctx)


def record_outcome(
    scope: TenantStore,
    template_id: str,
    version: int,
    outcome: str,
    *,
    ref: str,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Store what a reviewer did with one output; the same ``ref`` (a call id, a run id) reviewed
    again replaces its earlier outcome instead of counting twice.

    Raises:
        InvalidInput: unknown outcome; NotFound: unknown template version.
    """
    (registry or default_registry()).get(template_id, version)
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
    doc_id = hashlib.sha256(f"{template_id}|{ref}".encode()).hexdigest()[:32]
    doc = {
        "template_id": template_id,
        "template_version": str(version),
        "outcome": outcome,
        "ref": ref,
        "at": datetime.now(UTC),
    }
    scope.set(scope.path("prompt_outcomes", doc_id), doc)
    return doc


def template_report(
    scope: TenantStore, template_id: str, *, since: datetime, registry: Registry | None = None
) -> dict[str, Any]:
    """Per version since ``since``: calls, tokens, cost, latency, error and schema-valid rates,
    and reviewers' approval rate, with the current traffic shares."""
    registry = registry or default_registry()
    versions = {str(t.version): t for t in registry.versions(template_id)}
    shares = registry.shares(template_id)
    rows: dict[str, dict[str, Any]] = {v: _empty(int(v), shares) for v in versions}
    usage = scope.query(
        scope.path("llm_usage"), where=[("template_id", "==", template_id), ("at", ">=", since)]
    )
    for _, rec in usage:
        row = rows.setdefault(str(rec.get("template_version")), _empty(0, shares))
        row["calls"] += 1
        row["errors"] += int(rec.get("outcome") != "ok")
        row["cache_hits"] += int(bool(rec.get("cache_hit")))
        row["batch_calls"] += int(bool(rec.get("batch")))
        row["input_tokens"] += int(rec.get("input_tokens", 0))
        row["output_tokens"] += int(rec.get("output_tokens", 0))
        row["cost_usd"] += float(rec.get("cost_usd", 0.0))
        row["_latency"] += float(rec.get("latency_ms", 0.0))
        if rec.get("schema_valid") is not None:
            row["_checked"] += 1
            row["_valid"] += int(bool(rec["schema_valid"]))
    reviews = scope.query(
        scope.path("prompt_outcomes"),
        where=[("template_id", "==", template_id), ("at", ">=", since)],
    )
    for _, rev in reviews:
        row = rows.setdefault(str(rev.get("template_version")), _empty(0, shares))
        row["reviews"][rev["outcome"]] += 1
    return {
        "template_id": template_id,
        "since": since.isoformat(),
        "versions": [_finish(v, row) for v, row in sorted(rows.items())],
    }


def _empty(version: int, shares: dict[int, int]) -> dict[str, Any]:
    return {
        "traffic_percent": shares.get(version, 0),
        "calls": 0,
        "errors": 0,
        "cache_hits": 0,
        "batch_calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "reviews": dict.fromkeys(OUTCOMES, 0),
        "_latency": 0.0,
        "_checked": 0,
        "_valid": 0,
    }


def _finish(version: str, row: dict[str, Any]) -> dict[str, Any]:
    calls, checked = row["calls"], row.pop("_checked")
    valid, latency = row.pop("_valid"), row.pop("_latency")
    reviewed = sum(row["reviews"].values())
    return {
        "version": version,
        **row,
        "cost_usd": round(row["cost_usd"], 6),
        "avg_input_tokens": round(row["input_tokens"] / calls, 1) if calls else None,
        "avg_output_tokens": round(row["output_tokens"] / calls, 1) if calls else None,
        "avg_latency_ms": round(latency / calls, 1) if calls else None,
        "error_rate": round(row["errors"] / calls, 4) if calls else None,
        "schema_valid_rate": round(valid / checked, 4) if checked else None,
        "approval_rate": round(row["reviews"]["approved"] / reviewed, 4) if reviewed else None,
        "edit_rate": round(row["reviews"]["edited"] / reviewed, 4) if reviewed else None,
    }
