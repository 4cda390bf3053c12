"""Scoring leads of the tenant's read model (or fields given in a request), caching the results,
and training from the read model's won and lost leads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.capabilities.crm.readmodel import META, entity_meta
from shared.capabilities.scoring.registry import ModelRegistry, arm_for
from shared.capabilities.scoring.reports import TrainReport
from shared.capabilities.scoring.types import LeadScoreResult
from shared.core.config import TOPIC_AI_EVENTS
from shared.core.errors import AppError, InvalidInput, NotFound
from shared.core.log import get_logger, log_cache_lookup
from shared.core.messaging.pubsub import ordering_key
from shared.core.store.base import check_segment

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.core.messaging.pubsub import Outgoing, Publisher
    from shared.core.tenancy.scope import TenantStore

_log = get_logger("scoring")
SCORES = "lead_scores"
GLOBAL_PRIOR_RATE = 0.10  # a typical B2B lead-to-customer rate, used before a tenant has any model
SCORE_CHANGED = "lead.score_changed"
TARGET = "__outcome__"
LEAD_ID = "__lead_id__"
_NOT_FEATURES = {
    "id",
    "tenant_id",
    "status",
    "outcome",
    "created_at",
    "updated_at",
    META,
    "custom_fields",
    "owner_id",
    "customer_id",
}


def lead_fields(doc: dict[str, Any]) -> dict[str, Any]:
    """The fields a model sees for a read-model lead: its own and its custom fields."""
    fields = {
        k: v for k, v in doc.items() if k not in _NOT_FEATURES and not isinstance(v, (dict, list))
    }
    for key, value in (doc.get("custom_fields") or {}).items():
        fields.setdefault(key, value)
    return fields


class LeadScorer:
    """Scores a tenant's leads with the model its assignment picks, explains each score, stores it
    and announces changes."""

    def __init__(
        self,
        scope: TenantStore,
        *,
        publisher: Publisher | None = None,
        ttl: timedelta = timedelta(days=7),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._scope = scope
        self._registry = ModelRegistry(scope)
        self._publisher = publisher
        self._ttl = ttl
        self._clock = clock

    def latest(self, lead_id: str) -> LeadScoreResult:
        """The lead's last stored score; NotFound when it was never scored."""
        doc = self._scope.get(self._scope.path(SCORES, check_segment(lead_id, field="lead_id")))
        if doc is None:
            raise NotFound(f"lead {lead_id!r} has not been scored", field="lead_id")
        return LeadScoreResult.model_validate(doc["result"])

    def score(
        self, lead_id: str, fields: dict[str, Any] | None = None, *, force: bool = False
    ) -> LeadScoreResult:
        """Score one lead: from ``fields`` when given (a what-if: returned, never stored or
        announced as the lead's score), else from the read model (stored, announced when it
        changes, cached until it expires, the lead changes or the model assignment changes).

        Raises:
            NotFound: no such lead in the read model (and no fields given).
            InvalidInput: a bad lead id, or ``fields`` not an object of scalar values.
        """
        [outcome] = self.score_many([(lead_id, fields)], force=force)
        if isinstance(outcome, AppError):
            raise outcome
        return outcome

    def score_many(
        self, items: list[tuple[str, dict[str, Any] | None]], *, force: bool = False
    ) -> list[LeadScoreResult | AppError]:
        """Score many leads with one read of each kind, one model call per arm and batched writes.
        Bad items come back as errors in their place; transient failures raise."""
        outcomes: list[LeadScoreResult | AppError | None] = [None] * len(items)
        wanted = _valid_items(items, outcomes)
        by_id = [i for i, (_, fields) in wanted.items() if fields is None]
        leads = self._scope.get_many([self._scope.path("leads", wanted[i][0]) for i in by_id])
        previous = self._scope.get_many(
            [self._scope.path(SCORES, lead_id) for lead_id, _ in wanted.values()]
        )
        prev_by_index = dict(zip(wanted, previous, strict=True))
        assignment = self._registry.assignment()
        now = self._clock()
        rows = _rows(wanted, dict(zip(by_id, leads, strict=True)), outcomes)
        groups: dict[str | None, list[int]] = {}
        served = 0  # from the stored score (the score cache)
        for i, (_, lead_version) in rows.items():
            version = arm_for(wanted[i][0], assignment)
            stored = None if force else _still_valid(prev_by_index[i], lead_version, version, now)
            if stored is not None:
                outcomes[i] = stored
                served += 1
            else:
                groups.setdefault(version, []).append(i)
        log_cache_lookup("score", served, len(by_id) - served)
        writes: list[tuple[str, dict[str, Any]]] = []
        announcements = []
        for version, members in groups.items():
            results = self._score_group(version, [(wanted[i][0], rows[i][0]) for i in members], now)
            arm = "challenger" if version and version == assignment.challenger else "champion"
            for i, result in zip(members, results, strict=True):
                outcomes[i] = result
                if wanted[i][1] is not None:
                    # Scored from the caller's fields, not the lead's record: not the lead's
                    # score, so neither stored nor announced (issue 15, L1).
                    continue
                writes.append(self._stored(result, rows[i][1], arm))
                prev = prev_by_index[i]
                if prev is None or prev["result"]["score"] != result.score:
                    announcements.append(self._announcement(result, prev, now))
        if writes:
            self._scope.set_many(writes)
        if announcements and self._publisher is not None:
            self._publisher.publish_many(TOPIC_AI_EVENTS, announcements)
        return [o for o in outcomes if o is not None]

    def _score_group(
        self, version: str | None, leads: list[tuple[str, dict[str, Any]]], now: datetime
    ) -> list[LeadScoreResult]:
        """Score ``(lead_id, fields)`` pairs with one model version (None: the global prior)."""
        if version is None:
            return [self._prior(lead_id, now) for lead_id, _ in leads]
        import pandas as pd

        model = self._registry.load(version)
        scored = model.score(pd.DataFrame([fields for _, fields in leads]))
        return [
            LeadScoreResult(
                lead_id=lead_id,
                score=row["score"],
                probability=row["probability"],
                confidence=row["confidence"],
                reasoning=row["reasoning"],
                model_version=model.version,
                model_kind=model.kind,
                insufficient_history=bool(model.report.get("insufficient_history")),
                scored_at=now,
                expires_at=now + self._ttl,
            )
            for (lead_id, _), row in zip(leads, scored, strict=True)
        ]

    def _stored(
        self, result: LeadScoreResult, lead_version: str | None, arm: str
    ) -> tuple[str, dict[str, Any]]:
        """The score document of a lead: the result, the lead version it is valid for, the arm."""
        return (
            self._scope.path(SCORES, result.lead_id),
            {
                "result": result.model_dump(mode="python"),
                "lead_version": lead_version,
                "arm": arm,
                "expires_at": result.expires_at,
                "lead_id": result.lead_id,
            },
        )

    def _prior(self, lead_id: str, now: datetime) -> LeadScoreResult:
        return LeadScoreResult(
            lead_id=lead_id,
            score=round(100 * GLOBAL_PRIOR_RATE),
            probability=GLOBAL_PRIOR_RATE,
            confidence=0.0,
            model_version="global-prior",
            model_kind="prior",
            insufficient_history=True,
            scored_at=now,
            expires_at=now + self._ttl,
        )

    def _announcement(
        self, result: LeadScoreResult, prev: dict[str, Any] | None, now: datetime
    ) -> Outgoing:
        tenant, lead_id = self._scope.tenant_id, result.lead_id
        event = {
            "event_id": f"score-{lead_id}-{int(now.timestamp() * 1000)}",
            "event_type": SCORE_CHANGED,
            "tenant_id": tenant,
            "entity_type": "lead",
            "entity_id": lead_id,
            "data": {
                "score": result.score,
                "confidence": result.confidence,
                "previous_score": prev["result"]["score"] if prev else None,
                "model_version": result.model_version,
            },
        }
        return (
            event,
            ordering_key(tenant, lead_id),
            {"tenant_id": tenant, "event_type": SCORE_CHANGED},
        )


def labelled_leads(scope: TenantStore) -> Any:
    """The read model's won and lost leads as a frame (outcome in ``__outcome__``), oldest first."""
    import pandas as pd

    rows = []
    for doc_id, doc in scope.query(
        scope.path("leads"), where=[("status", "in", ["converted", "lost"])]
    ):
        row = lead_fields(doc)
        row[TARGET] = "won" if doc["status"] == "converted" else "lost"
        row[LEAD_ID] = doc_id
        row["__created__"] = doc.get("created_at")
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame = frame.sort_values("__created__", kind="stable")
        created = frame["__created__"].dropna()
        frame = frame.drop(columns="__created__")
        frame.attrs["window"] = {
            "from": str(created.iloc[0]) if len(created) else None,
            "to": str(created.iloc[-1]) if len(created) else None,
        }
    return frame


def train_from_read_model(scope: TenantStore) -> TrainReport:
    """Train on the tenant's won/lost leads; promote the new model only if it beats the champion
    on the most recent fifth of those leads (or there is no champion yet).

    Raises:
        InvalidInput: the tenant has no lead with an outcome yet.
    """
    from shared.capabilities.scoring.metrics import auc
    from shared.capabilities.scoring.training import labels, train

    frame = labelled_leads(scope)
    if frame.empty:
        raise InvalidInput(
            "no lead has an outcome yet (lead.converted or lead.lost events)", field="leads"
        )
    registry = ModelRegistry(scope)
    champion = registry.assignment().champion
    cut = int(len(frame) * 0.8)
    holdout, y = labels(frame.iloc[cut:], TARGET, "won")
    decision: dict[str, Any] = {"promoted": False}
    if champion is not None and 0 < y.sum() < len(y):
        # A fair contest: a candidate trained on the older 80 % against the champion, both on the
        # newest 20 % of outcomes, which neither has seen.
        candidate = train(frame.iloc[:cut], target=TARGET, positive="won", id_column=LEAD_ID)
        new_auc = auc(y, candidate.predict_proba(holdout))
        old_auc = auc(y, registry.load(champion).predict_proba(holdout))
        decision.update(
            champion=champion, holdout_rows=len(y), candidate_auc=new_auc, champion_auc=old_auc
        )
        better = new_auc > old_auc
    else:
        better = champion is None
    model = train(frame, target=TARGET, positive="won", id_column=LEAD_ID)
    record = registry.save(
        model,
        training={"source": "read model", "rows": len(frame), "window": frame.attrs.get("window")},
    )
    decision.update(version=record.version, kind=model.kind, metrics=record.metrics)
    if better:
        registry.promote(record.version)
        decision.update(
            promoted=True,
            reason="first model for this tenant"
            if champion is None
            else "beats the champion on the most recent leads",
        )
    else:
        decision["reason"] = (
            "does not beat the champion on the most recent leads"
            if "candidate_auc" in decision
            else "too few recent outcomes to compare with the champion"
        )
    _log.info(
        "scoring model trained",
        extra={"fields": {k: v for k, v in decision.items() if k != "metrics"}},
    )
    return TrainReport.model_validate(decision)


def _valid_items(
    items: list[tuple[str, dict[str, Any] | None]],
    outcomes: list[LeadScoreResult | AppError | None],
) -> dict[int, tuple[str, dict[str, Any] | None]]:
    """The items that can be scored, by index; each bad one gets its error in ``outcomes``."""
    wanted: dict[int, tuple[str, dict[str, Any] | None]] = {}
    for i, (lead_id, fields) in enumerate(items):
        try:
            check_segment(lead_id, field="lead_id")
            if fields is not None and (
                not isinstance(fields, dict)
                or any(isinstance(v, (dict, list)) for v in fields.values())
            ):
                raise InvalidInput("fields must be an object of scalar values", field="fields")
            wanted[i] = (lead_id, fields)
        except AppError as exc:
            outcomes[i] = exc
    return wanted


def _rows(
    wanted: dict[int, tuple[str, dict[str, Any] | None]],
    leads: dict[int, dict[str, Any] | None],
    outcomes: list[LeadScoreResult | AppError | None],
) -> dict[int, tuple[dict[str, Any], str | None]]:
    """Each scorable item's fields and the lead version they come from (None for fields the
    caller gave); a lead missing from the read model gets NotFound in ``outcomes``."""
    rows: dict[int, tuple[dict[str, Any], str | None]] = {}
    for i, (lead_id, fields) in wanted.items():
        if fields is not None:
            rows[i] = (fields, None)
            continue
        lead = leads[i]
        if lead is None:
            outcomes[i] = NotFound(f"no lead {lead_id!r} in this tenant", field="lead_id")
            continue
        rows[i] = (lead_fields(lead), entity_meta(lead).get("last_event_id"))
    return rows


def _still_valid(
    stored: dict[str, Any] | None, lead_version: str | None, version: str | None, now: datetime
) -> LeadScoreResult | None:
    """The stored score when it was made for this version of the lead by this model and has not
    expired (the score cache); None when the lead must be scored again."""
    if (
        stored
        and lead_version is not None
        and stored.get("lead_version") == lead_version
        and stored["result"]["model_version"] == (version or "global-prior")
        and stored["expires_at"] > now
    ):
        return LeadScoreResult.model_validate(stored["result"])
    return None
