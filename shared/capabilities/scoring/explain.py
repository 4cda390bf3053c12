"""Plain-language explanations of batch scores, written by an LLM through the providers' batch
interfaces (half price, ready within the job's deadline): the nightly batch scoring hands over
its highest-scored leads, and reps read the explanations from the batch job
(``GET /api/v1/ai/llm/batches/{id}``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.ai.llm.batch.service import BatchItem, job_id_for
from shared.ai.prompts.service import prepare

if TYPE_CHECKING:
    from collections.abc import Sequence

    from shared.ai.llm.batch.service import BatchService
    from shared.capabilities.scoring.batch import TopLead
    from shared.core.tenancy.scope import TenantStore

TEMPLATE = "lead_score_explanation"


def submit_explanations(
    service: BatchService, scope: TenantStore, run_id: str, top: Sequence[TopLead]
) -> dict[str, Any]:
    """One batch job explaining ``top`` (lead id, score, confidence, reasoning); keyed on the
    scoring run, so a retried run submits nothing twice. Returns the job's id and counts."""
    items = []
    for lead in top:
        factors = (
            "\n".join(c["explanation"] for c in lead["reasoning"]) or "No single field stands out."
        )
        rendered = prepare(
            scope,
            TEMPLATE,
            {
                "score": str(lead["score"]),
                "confidence": f"{lead['confidence']:.2f}",
                "factors": factors,
            },
            routing_key=lead["lead_id"],
        )
        items.append(
            BatchItem(
                ref=lead["lead_id"],
                request=rendered.request,
                crm_object=f"lead:{lead['lead_id']}",
                template_id=rendered.template_id,
                template_version=str(rendered.version),
            )
        )
    if not items:
        return {"batch_id": None, "items": 0}
    job = service.submit(
        scope,
        items,
        feature=rendered.template.feature,
        deadline=timedelta(hours=12),
        job_id=job_id_for(scope.tenant_id, f"score-explanations-{run_id}"),
        submitted_by="scoring.batch",
    )
    return {"batch_id": job.batch_id, "items": len(items)}
