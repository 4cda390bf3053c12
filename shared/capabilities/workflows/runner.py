"""Running a workflow slice: the Cloud Tasks target's work.

A task names (tenant, run, slice). The runner claims the slice on the run document (same slice,
no live lease: else a duplicate is acknowledged, or refused with 409 so Cloud Tasks retries
later), takes a fencing lease on the LangGraph thread, and runs the graph from its checkpoint
until it finishes, interrupts for a human, is cancelled, or its time budget ends (then it
enqueues the next slice). Checkpoints are written synchronously after every step, so a runner
killed mid-step resumes at that step: completed steps, and the writes of nodes that succeeded in
the failed step, are not repeated.

Failures: a failed attempt is recorded on the run and raised, so Cloud Tasks retries. After
``MAX_FAILURES`` the run degrades to the single-agent graph; when that fails too, it ends
``failed`` with a hand-off task for a person and a ``workflow.needs_human`` alert.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Required, TypedDict

from shared.capabilities.workflows.agents import Deps
from shared.capabilities.workflows.checkpoint import LeaseLost
from shared.capabilities.workflows.graphs import build_graph, build_single_agent, stream_input
from shared.capabilities.workflows.models import FINAL_STATUSES, HumanTask
from shared.capabilities.workflows.runs import COLLECTION, RunStore, enqueue_slice
from shared.capabilities.workflows.steps import StepRecorder
from shared.core.errors import InProgress, TransientError
from shared.core.log import get_logger
from shared.core.store import counting
from shared.core.store.optimistic import versions_for

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from shared.ai.embeddings.base import Embedder
    from shared.ai.llm.client import LLMClient
    from shared.capabilities.workflows.checkpoint import FirestoreSaver
    from shared.capabilities.workflows.models import WorkflowRun
    from shared.core.messaging.pubsub import Publisher
    from shared.core.messaging.tasks import TaskQueue
    from shared.core.store.base import DocumentStore
    from shared.core.tenancy.scope import TenantStore

_log = get_logger("workflows.runner")
MAX_FAILURES = 2
LEASE = timedelta(minutes=10)
SLICE_BUDGET_S = 240.0


class SliceOutcome(TypedDict, total=False):
    """What one slice did, as the runner's task answers it (and its log line records)."""

    run_id: Required[str]
    status: Required[str]  # the run's status after the slice, or deferred / superseded / degraded
    skipped: bool  # the run had already moved on (a duplicate delivery)
    retry_in_s: float  # deferred: another slice holds the lease for this long
    task_id: str  # waiting for a person: the task they answer
    next_slice: int  # another slice was enqueued
    handed_off: bool  # the run went to a person after repeated failures


class Runner:
    """Runs one slice of a workflow from its Firestore checkpoint within a time budget, then
    enqueues the next slice or stops for a person; a lease keeps two deliveries of one task from
    running it twice."""

    def __init__(
        self,
        store: DocumentStore,
        scope: TenantStore,
        *,
        client: LLMClient,
        publisher: Publisher | None,
        queue: TaskQueue,
        runner_url: str | None,
        embedder: Embedder,
        lease: timedelta = LEASE,
        budget_s: float = SLICE_BUDGET_S,
    ) -> None:
        self._store = store
        self._scope = scope
        self._client = client
        self._publisher = publisher
        self._queue = queue
        self._runner_url = runner_url
        self._embedder = embedder  # the triage agent's knowledge base
        self._lease = lease
        self._budget_s = budget_s
        self._versions = versions_for(store)
        self.runs = RunStore(scope, publisher, self._versions)

    # --- claim ----------------------------------------------------------------------------------
    def _claim(self, run_id: str, slice_no: int) -> WorkflowRun | None:
        now = datetime.now(UTC)

        def change(run: WorkflowRun) -> WorkflowRun | None:
            if (
                run.status in FINAL_STATUSES
                or run.status == "waiting_for_human"
                or run.slice != slice_no
            ):
                return None  # done, waiting, or a stale duplicate: nothing to do
            if run.lease_until is not None and run.lease_until > now:
                raise InProgress(f"slice {slice_no} of {run_id} is being run", field="run_id")
            run.status, run.lease_until = "running", now + self._lease
            run.lease_token += 1  # fences the checkpoint writes of any runner before this one
            return run

        # A slice starts after others wrote the run (its start, a person's decision): read it.
        self._versions.forget(self._scope.path(COLLECTION, run_id))
        run = self.runs.update(run_id, change)
        if run.status != "running" or run.lease_until is None or run.slice != slice_no:
            return None
        return run

    def _defer(self, run_id: str, slice_no: int) -> SliceOutcome:
        """Another runner holds this slice: look again when its lease ends (it may have died).
        A task scheduled for then, named after the lease, stands in for this delivery, so the
        queue's own retry timing does not matter (the emulator retries at once, then gives up)."""
        run = self.runs.get(run_id)
        until = run.lease_until or datetime.now(UTC)
        wait = max(until - datetime.now(UTC), timedelta(0)) + timedelta(seconds=1)
        enqueue_slice(
            self._queue,
            self._runner_url,
            run,
            slice_no,
            delay=wait,
            suffix=f"-after-{int(until.timestamp())}",
        )
        return {
            "run_id": run_id,
            "status": "deferred",
            "retry_in_s": round(wait.total_seconds(), 1),
        }

    # --- run ------------------------------------------------------------------------------------
    def run_slice(self, run_id: str, slice_no: int) -> SliceOutcome:
        """Run one slice; returns what happened (the task's response body).

        Raises:
            TransientError (503): this attempt failed and was recorded, Cloud Tasks should retry.
            A slice another runner holds is deferred to when its lease ends (200).
        """
        try:
            run = self._claim(run_id, slice_no)
        except InProgress:
            return self._defer(run_id, slice_no)
        if run is None:
            current = self.runs.get(run_id)
            return {"run_id": run_id, "status": current.status, "skipped": True}
        if run.status == "running" and slice_no == 0 and not run.steps:
            self.runs.publish(run, "workflow.status_changed")
        recorded = StepRecorder(self.runs, run)
        saver = recorded.saver(
            self._store, self._scope.path(COLLECTION, run.run_id), self._versions
        )
        thread = run.run_id if run.mode == "multi_agent" else f"{run.run_id}-single"
        token = run.lease_token
        knowledge = None
        if run.type == "interaction_triage":
            from shared.capabilities.knowledge.index import KnowledgeBase

            knowledge = KnowledgeBase(self._scope, self._embedder)
        deps = Deps(self._client, self._scope, self._publisher, run.run_id, knowledge)
        build = build_graph if run.mode == "multi_agent" else build_single_agent
        graph = build(run.type, deps, saver)
        config: RunnableConfig = {
            "configurable": {"thread_id": thread, "lease_token": token},
            "recursion_limit": 40,
        }
        try:
            return self._advance(run, graph, config, saver, recorded)
        except LeaseLost:
            return {"run_id": run_id, "status": "superseded"}
        except Exception as exc:  # noqa: BLE001 - recorded on the run, then raised or degraded below
            try:  # the writes of nodes that succeeded in this step are kept
                saver.flush(config)
            except LeaseLost:
                return {"run_id": run_id, "status": "superseded"}
            recorded.announce({})
            return self._failed(run, exc)

    def _advance(
        self,
        run: WorkflowRun,
        graph: Any,
        config: RunnableConfig,
        saver: FirestoreSaver,
        recorded: StepRecorder,
    ) -> SliceOutcome:
        snapshot = graph.get_state(config)
        start_with = stream_input(run, snapshot)
        started = last = time.monotonic()
        elapsed: dict[str, float] = {}  # per node: time from the previous step's end to its own
        if start_with is not None or snapshot.next:
            stream = graph.stream(start_with, config, stream_mode="updates", durability="sync")
            while True:
                with counting.measure() as ops:  # the step's store operations (benchmarks)
                    chunk = next(stream, None)
                    if chunk is None:
                        saver.flush(config)
                now = time.monotonic()
                for node in chunk or {}:
                    elapsed[node] = (now - last) * 1000
                last = now
                run = recorded.announce(elapsed)
                nodes = ",".join(k for k in chunk or {} if not k.startswith("__")) or "end"
                counting.log_work(
                    "workflow step", ops, workflow_type=run.type, run_id=run.run_id, node=nodes
                )
                if chunk is None:
                    break
                if run.cancel_requested or time.monotonic() - started > self._budget_s:
                    stream.close()  # the step under way is dropped; its writes were kept
                    saver.flush(config)
                    run = recorded.announce(elapsed)
                    if run.cancel_requested:
                        return self._end(run, "cancelled")
                    return self._next_slice(run)
        snapshot = graph.get_state(config)
        if snapshot.interrupts:
            return self._wait_for_human(run, snapshot.interrupts[0])
        output = snapshot.values.get("output") or {}
        if run.mode == "single_agent" and output.get("needs_human"):
            return self._hand_off(
                run, f"the single-agent path was unsure: {output.get('reason', '')}", output
            )
        return self._end(run, "completed", output=output)

    def _outcome(self, run: WorkflowRun, outcome: str, first_stop: datetime | None) -> None:
        """One line per outcome a run reaches (terraform/metrics.json: workflow_outcome):
        completed, failed, cancelled, waiting_for_human, handed_off, degraded; with the time
        since the run was created, and ``in_time``: whether its first stop (finished, or a
        person has it) came within its type's deadline ("n/a" for later outcomes)."""
        age_ms = (datetime.now(UTC) - run.created_at).total_seconds() * 1000
        in_time = "n/a"
        if first_stop is not None:
            deadline = DEADLINE_SECONDS.get(run.type, DEFAULT_DEADLINE_SECONDS)
            late = (first_stop - run.created_at).total_seconds() > deadline or outcome == "failed"
            in_time = "false" if late else "true"
        _log.info(
            "workflow %s",
            outcome,
            extra={
                "fields": {
                    "metric": "workflow_outcome",
                    "run_id": run.run_id,
                    "workflow_type": run.type,
                    "outcome": outcome,
                    "mode": run.mode,
                    "in_time": in_time,
                    "duration_ms": round(age_ms, 1),
                }
            },
        )

    # --- endings --------------------------------------------------------------------------------
    def _wait_for_human(self, run: WorkflowRun, pending: Any) -> SliceOutcome:
        value = pending.value if isinstance(pending.value, dict) else {"prompt": str(pending.value)}
        task = HumanTask(
            task_id=f"{run.run_id}-{run.slice + 1}",
            kind="review_triage" if value.get("kind") == "review_triage" else "approve_draft",
            prompt=value.get("prompt", "Decide how to continue."),
            payload={k: v for k, v in value.items() if k not in ("kind", "prompt")},
        )

        first = _FirstStop()

        def change(current: WorkflowRun) -> WorkflowRun:
            first.mark(current)
            current.status, current.pending_task = "waiting_for_human", task
            current.resume, current.lease_until = None, None
            current.slice += 1
            return current

        run = self.runs.update(run.run_id, change)
        self.runs.publish(run, "workflow.status_changed", task_id=task.task_id)
        self._outcome(run, "waiting_for_human", first.stopped)
        return {"run_id": run.run_id, "status": run.status, "task_id": task.task_id}

    def _end(
        self, run: WorkflowRun, status: str, *, output: dict[str, Any] | None = None
    ) -> SliceOutcome:
        first = _FirstStop()

        def change(current: WorkflowRun) -> WorkflowRun:
            first.mark(current)
            current.status = status  # type: ignore[assignment]
            current.output = output if output is not None else current.output
            current.pending_task, current.resume, current.lease_until = None, None, None
            return current

        run = self.runs.update(run.run_id, change)
        self.runs.publish(run, "workflow.status_changed")
        self._outcome(run, run.status, first.stopped)
        return {"run_id": run.run_id, "status": run.status}

    def _next_slice(self, run: WorkflowRun) -> SliceOutcome:
        def change(current: WorkflowRun) -> WorkflowRun:
            current.slice += 1
            current.status, current.lease_until, current.resume = "queued", None, None
            return current

        run = self.runs.update(run.run_id, change)
        enqueue_slice(self._queue, self._runner_url, run, run.slice)
        return {"run_id": run.run_id, "status": run.status, "next_slice": run.slice}

    def _failed(self, run: WorkflowRun, exc: Exception) -> SliceOutcome:
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        fields = {
            "metric": "workflow_slice_failed",
            "run_id": run.run_id,
            "workflow_type": run.type,
        }
        _log.warning("workflow slice failed: %s", message, extra={"fields": fields})

        def change(current: WorkflowRun) -> WorkflowRun:
            current.failures += 1
            current.error = message[:500]
            current.lease_until = None
            if current.failures >= MAX_FAILURES and current.mode == "multi_agent":
                current.mode, current.failures = "single_agent", 0
                current.degraded = (
                    f"the multi-agent path failed {MAX_FAILURES} times: {message[:300]}"
                )
                current.slice += 1
                current.status = "queued"
            return current

        run = self.runs.update(run.run_id, change)
        if run.mode == "single_agent" and run.status == "queued" and run.failures == 0:
            self.runs.publish(run, "workflow.degraded", reason=run.degraded)
            self._outcome(run, "degraded", None)
            enqueue_slice(self._queue, self._runner_url, run, run.slice)
            return {"run_id": run.run_id, "status": "degraded", "next_slice": run.slice}
        if run.mode == "single_agent" and run.failures >= MAX_FAILURES:
            return self._hand_off(run, f"the single-agent path failed too: {message[:300]}", None)
        raise TransientError(
            f"workflow step failed (attempt {run.failures}): {message[:300]}"
        ) from exc

    def _hand_off(self, run: WorkflowRun, why: str, output: dict[str, Any] | None) -> SliceOutcome:
        task = HumanTask(
            task_id=f"{run.run_id}-handoff",
            kind="handoff",
            prompt=f"This run needs a person: {why}",
            payload={"output": output} if output else {},
            options=["take_over"],
        )

        first = _FirstStop()

        def change(current: WorkflowRun) -> WorkflowRun:
            first.mark(current)
            current.status = "completed" if output is not None else "failed"
            current.pending_task, current.lease_until = task, None
            current.degraded = (current.degraded + "; " if current.degraded else "") + why
            current.output = output if output is not None else current.output
            return current

        run = self.runs.update(run.run_id, change)
        self.runs.publish(run, "workflow.needs_human", reason=why)
        self._outcome(run, "handed_off", first.stopped)
        _log.warning(
            "workflow handed to a person: %s", why, extra={"fields": {"run_id": run.run_id}}
        )
        return {"run_id": run.run_id, "status": run.status, "handed_off": True}


# How long a run may take to finish or reach a person (the workflow SLO, terraform/monitoring).
DEADLINE_SECONDS = {"lead_qualification": 120, "outreach_draft": 120, "interaction_triage": 60}
DEFAULT_DEADLINE_SECONDS = 120


class _FirstStop:
    """Inside a run update: stamps ``first_stop_at`` the first time a run stops, and remembers
    whether this update was that time (a retried transaction runs the change again)."""

    def __init__(self) -> None:
        self.stopped: datetime | None = None

    def mark(self, current: WorkflowRun) -> None:
        self.stopped = None
        if current.first_stop_at is None:
            current.first_stop_at = self.stopped = datetime.now(UTC)
