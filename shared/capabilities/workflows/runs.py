"""Workflow run documents (``tenants/{t}/workflow_runs/{run_id}``): created once per
idempotency key, changed only in transactions (a runner's: optimistic commits) that bump
``version``, listed with filters and a cursor; every change worth showing is published on
``ai-events`` for the real-time service."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.capabilities.workflows.models import WorkflowRun
from shared.core.config import QUEUE_WORKFLOWS_BATCH, QUEUE_WORKFLOWS_INTERACTIVE, TOPIC_AI_EVENTS
from shared.core.errors import ConfigError, InvalidInput, NotFound
from shared.core.messaging.pubsub import ordering_key
from shared.core.store.optimistic import run_optimistic

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from shared.core.messaging.pubsub import Publisher
    from shared.core.messaging.tasks import TaskQueue
    from shared.core.store.optimistic import Versions
    from shared.core.tenancy.scope import TenantStore

COLLECTION = "workflow_runs"


def run_id_for(tenant_id: str, idempotency_key: str | None) -> str:
    """A run's id: derived from the idempotency key when given (a retried start finds the same run),
    else random."""
    if idempotency_key:
        return "wf" + hashlib.sha256(f"{tenant_id}|{idempotency_key}".encode()).hexdigest()[:22]
    return "wf" + uuid.uuid4().hex[:22]


class RunStore:
    """A tenant's workflow runs in Firestore, with their status changes announced on ai-events."""

    def __init__(
        self,
        scope: TenantStore,
        publisher: Publisher | None = None,
        versions: Versions | None = None,
    ) -> None:
        """``versions``: changes are optimistic commits that start from the run as this process
        last committed or read it (:mod:`shared.core.store.optimistic`), for a runner, which
        writes the run in turn under its lease; else transactions."""
        self._scope = scope
        self._publisher = publisher
        self._versions = versions

    def _path(self, run_id: str) -> str:
        return self._scope.path(COLLECTION, run_id)

    def create(self, run: WorkflowRun) -> tuple[WorkflowRun, bool]:
        """Store a new run; (the stored run, True) or (the existing one, False) for a repeat."""
        if self._scope.create(self._path(run.run_id), _doc(run)):
            self.publish(run, "workflow.created")
            return run, True
        return self.get(run.run_id), False

    def get(self, run_id: str) -> WorkflowRun:
        """The run; NotFound naming ``run_id`` when absent."""
        doc = self._scope.get(self._path(run_id))
        if doc is None:
            raise NotFound(f"no workflow run {run_id!r} in this tenant", field="run_id")
        return WorkflowRun.model_validate(doc)

    def update(
        self, run_id: str, change: Callable[[WorkflowRun], WorkflowRun | None]
    ) -> WorkflowRun:
        """Apply ``change`` atomically (a transaction, or an optimistic commit given
        ``versions``); it returns the new run, or None to leave it as it is (the current run is
        returned). ``change`` may raise to refuse (Conflict, ...)."""
        if self._versions is not None:
            return run_optimistic(
                self._scope, lambda tx: self.apply(tx, run_id, change), self._versions
            )
        return self._scope.run_transaction(lambda tx: self.apply(tx, run_id, change))

    def apply(
        self, tx: Any, run_id: str, change: Callable[[WorkflowRun], WorkflowRun | None]
    ) -> WorkflowRun:
        """:meth:`update`'s work inside a transaction someone else runs (``tx`` seen through this
        tenant, or a raw one: paths are checked either way). Reads before it writes."""
        path = self._path(run_id)
        tx = self._scope.scoped(tx)
        doc = tx.get(path)
        if doc is None:
            raise NotFound(f"no workflow run {run_id!r} in this tenant", field="run_id")
        current = WorkflowRun.model_validate(doc)
        new = change(current.model_copy(deep=True))
        if new is None:
            return current
        new.version = current.version + 1
        new.updated_at = datetime.now(UTC)
        tx.set(path, _doc(new))
        return new

    def list(
        self,
        *,
        status: str | None = None,
        type_: str | None = None,
        customer_id: str | None = None,
        limit: int = 20,
        before: str | None = None,
    ) -> tuple[list[WorkflowRun], str | None]:
        """Newest first; ``before`` is the cursor the previous page returned."""
        where: list[Any] = []
        if status:
            where.append(("status", "==", status))
        if type_:
            where.append(("type", "==", type_))
        if customer_id:
            where.append(("customer_id", "==", customer_id))
        if before:
            try:
                where.append(("created_at", "<", datetime.fromisoformat(before)))
            except ValueError as exc:
                raise InvalidInput("cursor is not one this API returned", field="cursor") from exc
        rows = self._scope.query(
            self._scope.path(COLLECTION),
            where=where,
            order_by="created_at",
            descending=True,
            limit=limit,
        )
        runs = [WorkflowRun.model_validate(doc) for _, doc in rows]
        cursor = runs[-1].created_at.isoformat() if len(runs) == limit else None
        return runs, cursor

    def publish(self, run: WorkflowRun, event_type: str, **data: Any) -> None:
        """A workflow event on ``ai-events`` (the real-time service streams these)."""
        self.publish_all(run, [(event_type, data)])

    def publish_all(self, run: WorkflowRun, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Events of ``run`` (type, data), published together: one call, in order."""
        if self._publisher is None or not events:
            return
        self._publisher.publish_many(
            TOPIC_AI_EVENTS,
            [
                (
                    {
                        "event_id": f"{run.run_id}-{event_type}-{run.version}-{data.get('node', '')}",
                        "event_type": event_type,
                        "tenant_id": run.tenant_id,
                        "entity_type": "workflow_run",
                        "entity_id": run.run_id,
                        "data": {"status": run.status, "type": run.type, **data},
                    },
                    ordering_key(run.tenant_id, run.run_id),
                    {"tenant_id": run.tenant_id, "event_type": event_type},
                )
                for event_type, data in events
            ],
        )


def enqueue_slice(
    queue: TaskQueue,
    runner_url: str | None,
    run: WorkflowRun,
    slice_no: int,
    *,
    delay: timedelta | None = None,
    suffix: str = "",
) -> None:
    """Ask Cloud Tasks to run ``slice_no`` of ``run`` (named, so a repeat is refused in the cloud).

    Raises:
        ConfigError: no runner URL is configured; TransientError: Cloud Tasks is unavailable.
    """
    if not runner_url:
        raise ConfigError("WORKFLOW_RUNNER_URL is required to run workflows")
    queue_name = QUEUE_WORKFLOWS_BATCH if run.priority == "low" else QUEUE_WORKFLOWS_INTERACTIVE
    queue.enqueue(
        queue_name,
        runner_url,
        {"tenant_id": run.tenant_id, "run_id": run.run_id, "slice": slice_no},
        name=f"{run.run_id}-{run.mode}-{slice_no}{suffix}",
        delay=delay,
    )


def _doc(run: WorkflowRun) -> dict[str, Any]:
    # The customer id also sits at the top level: list filters query it directly.
    return {**run.model_dump(mode="python"), "customer_id": run.context.customer_id}
