"""Recording a run's steps on its run document in the same commit as the step's checkpoint
(the saver's ``on_commit`` hook), and announcing them once that commit is durable."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from shared.capabilities.workflows.checkpoint import FirestoreSaver
from shared.capabilities.workflows.models import AgentAction, ExecutionStep
from shared.core.log import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from shared.capabilities.workflows.models import WorkflowRun
    from shared.capabilities.workflows.runs import RunStore
    from shared.core.store.base import DocumentStore
    from shared.core.store.optimistic import Versions

_log = get_logger("workflows.runner")


class StepRecorder:
    """The run as the saver's last commit wrote it, and the steps it recorded that are not yet
    announced (published on ``ai-events`` and logged)."""

    def __init__(self, runs: RunStore, run: WorkflowRun) -> None:
        self._runs = runs
        self.run = run
        self._steps: list[ExecutionStep] = []
        self._lock = threading.Lock()

    def on_commit(self, tx: Any, writes: list[tuple[str, str, Any]]) -> Callable[[], None] | None:
        """The saver's commit hook: the actions and steps a commit makes durable go on the run
        document in the same transaction; they count as recorded once it commits."""
        actions = [AgentAction.model_validate(a) for _, c, v in writes if c == "actions" for a in v]
        steps = [ExecutionStep.model_validate(s) for _, c, v in writes if c == "steps" for s in v]
        if not actions and not steps:
            return None

        def change(current: WorkflowRun) -> WorkflowRun:
            current.actions += actions
            current.steps += steps
            return current

        run = self._runs.apply(tx, self.run.run_id, change)

        def committed() -> None:
            with self._lock:
                self.run = run
                self._steps += steps

        return committed

    def saver(self, store: DocumentStore, run_doc: str, versions: Versions) -> FirestoreSaver:
        """The run's saver: deferred writes under the runner's lease, whose token ``run_doc``
        holds; each commit carries this recorder's hook and starts from the run document as the
        process's last commit left it (``versions``), for fencing and the hook."""
        return FirestoreSaver(
            store,
            root=f"tenants/{self.run.tenant_id}/workflow_state/lg",
            ttl=timedelta(days=90),
            defer_writes=True,
            on_commit=self.on_commit,
            lease_doc=run_doc,
            versions=versions,
        )

    def announce(self, elapsed: dict[str, float]) -> WorkflowRun:
        """Publish and log the steps that commits made durable since the last call (``elapsed``:
        each node's time, taken as it is announced); returns the run as last committed."""
        with self._lock:
            run, steps, self._steps = self.run, self._steps, []
        self._runs.publish_all(
            run,
            [("workflow.step_completed", {"node": s.node, "agent": s.agent}) for s in steps],
        )
        for step in steps:
            # Duration and failures per type and step (terraform/metrics.json: workflow_step).
            _log.info(
                "workflow step %s",
                step.status,
                extra={
                    "fields": {
                        "metric": "workflow_step",
                        "run_id": run.run_id,
                        "workflow_type": run.type,
                        "node": step.node,
                        "agent": step.agent,
                        "status": step.status,
                        "duration_ms": round(elapsed.pop(step.node, 0.0), 1),
                    }
                },
            )
        return run
