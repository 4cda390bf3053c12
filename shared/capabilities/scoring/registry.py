"""A tenant's model registry in Firestore: versions with their metadata, model artefacts in
chunks, and the champion/challenger assignment.

Artefacts are chunked JSON in Firestore rather than objects in Cloud Storage: a model is a few
hundred kilobytes (LightGBM text plus JSON), Firestore is already every unit's store and emulator,
and promotion changes one document in a transaction. Past ~20 MB a model would belong in Cloud
Storage; nothing above this module would change.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from shared.capabilities.scoring.model import LeadModel
from shared.core.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from shared.core.tenancy.scope import TenantStore

CHUNK_CHARS = 900_000
MODELS = "scoring_models"
SETTINGS = ("settings", "scoring")
_cache: OrderedDict[tuple[str, str], LeadModel] = OrderedDict()
_cache_lock = threading.Lock()


class ModelRecord(BaseModel):
    """A stored model version: its kind, status, when it was trained and its evaluation figures."""

    version: str
    kind: str
    status: str  # candidate | champion | challenger | retired
    created_at: datetime
    training: dict[str, Any] = Field(default_factory=dict)  # rows, positives, window
    columns: dict[str, str] = Field(default_factory=dict)
    excluded: list[dict[str, str]] = Field(default_factory=list)
    metrics: dict[str, Any] = Field(default_factory=dict)
    size_chars: int = 0
    chunks: int = 0


class Assignment(BaseModel):
    """Which version scores a tenant's leads: the champion, and a challenger on a share of leads
    during an A/B test."""

    champion: str | None = None
    challenger: str | None = None
    challenger_share: float = Field(default=0.0, ge=0.0, le=1.0)
    test_started_at: datetime | None = None


def arm_for(lead_id: str, assignment: Assignment) -> str | None:
    """The model version that scores ``lead_id``: a deterministic share of leads (by a hash of the
    id) goes to the challenger, the rest to the champion."""
    if assignment.challenger and assignment.challenger_share > 0:
        bucket = int(hashlib.sha256(lead_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        if bucket < assignment.challenger_share:
            return assignment.challenger
    return assignment.champion


class ModelRegistry:
    """A tenant's scoring model versions in Firestore, and which of them serve."""

    def __init__(self, scope: TenantStore) -> None:
        self._scope = scope

    def _path(self, version: str, *more: str) -> str:
        return self._scope.path(MODELS, version, *more)

    def save(self, model: LeadModel, *, training: dict[str, Any] | None = None) -> ModelRecord:
        """Store ``model`` as a new candidate version (chunked: a model can exceed a document's
        size)."""
        text = json.dumps(model.to_json())
        pieces = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)]
        for i, piece in enumerate(pieces):
            self._scope.set(
                self._path(model.version, "chunks", f"{i:04d}"), {"i": i, "data": piece}
            )
        record = ModelRecord(
            version=model.version,
            kind=model.kind,
            status="candidate",
            created_at=datetime.now(UTC),
            training={
                "rows": model.report.get("labelled_rows"),
                "positives": model.report.get("positives"),
                **(training or {}),
            },
            columns=model.report.get("columns", {}),
            excluded=model.report.get("excluded", []),
            metrics=model.report.get("validation", {}),
            size_chars=len(text),
            chunks=len(pieces),
        )
        # The record is written last: a model is listed only once all its chunks are in place.
        self._scope.set(self._path(model.version), record.model_dump(mode="python"))
        return record

    def record(self, version: str) -> ModelRecord:
        """A version's record; NotFound naming ``version`` when absent."""
        doc = self._scope.get(self._path(version))
        if doc is None:
            raise NotFound(f"no scoring model {version!r} in this tenant", field="version")
        return ModelRecord.model_validate(doc)

    def load(self, version: str) -> LeadModel:
        """A version's model, cached per process (models are immutable once stored)."""
        key = (self._scope.tenant_id, version)
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
        record = self.record(version)
        rows = self._scope.query(self._path(version, "chunks"))
        if len(rows) != record.chunks:
            raise Conflict(f"model {version} is incomplete ({len(rows)} of {record.chunks} chunks)")
        model = LeadModel.from_json(json.loads("".join(doc["data"] for _, doc in sorted(rows))))
        with _cache_lock:
            _cache[key] = model
            while len(_cache) > 16:
                _cache.popitem(last=False)
        return model

    def list(self) -> list[ModelRecord]:
        """The tenant's model versions, newest first."""
        rows = self._scope.query(
            self._scope.path(MODELS), order_by="created_at", descending=True, limit=100
        )
        return [ModelRecord.model_validate(doc) for _, doc in rows]

    def assignment(self) -> Assignment:
        """The tenant's current champion and challenger."""
        return Assignment.model_validate(self._scope.get(self._scope.path(*SETTINGS)) or {})

    def promote(self, version: str) -> Assignment:
        """Make ``version`` the champion (ending any test it was the challenger of)."""
        settings = self._scope.path(*SETTINGS)

        def run(tx: Any) -> Assignment:
            current = Assignment.model_validate(tx.get(settings) or {})
            target = tx.get(self._path(version))
            old = (
                tx.get(self._path(current.champion))
                if current.champion and current.champion != version
                else None
            )
            if target is None:
                raise NotFound(f"no scoring model {version!r} in this tenant", field="version")
            if old is not None:
                tx.set(self._path(str(current.champion)), {**old, "status": "retired"})
            tx.set(self._path(version), {**target, "status": "champion"})
            updated = Assignment(champion=version)
            tx.set(settings, updated.model_dump(mode="python"))
            return updated

        result: Assignment = self._scope.run_transaction(run)
        return result

    def start_test(self, challenger: str, share: float) -> Assignment:
        """Send ``share`` of leads (by lead id) to ``challenger`` beside the champion."""
        if not 0 < share < 1:
            raise InvalidInput("share must be between 0 and 1 (exclusive)", field="share")
        settings = self._scope.path(*SETTINGS)

        def run(tx: Any) -> Assignment:
            current = Assignment.model_validate(tx.get(settings) or {})
            target = tx.get(self._path(challenger))
            if target is None:
                raise NotFound(
                    f"no scoring model {challenger!r} in this tenant", field="challenger"
                )
            if current.champion is None:
                raise Conflict(
                    "there is no champion to test against; promote a model first",
                    field="challenger",
                )
            if challenger == current.champion:
                raise InvalidInput(
                    "the challenger must differ from the champion", field="challenger"
                )
            tx.set(self._path(challenger), {**target, "status": "challenger"})
            updated = Assignment(
                champion=current.champion,
                challenger=challenger,
                challenger_share=share,
                test_started_at=datetime.now(UTC),
            )
            tx.set(settings, updated.model_dump(mode="python"))
            return updated

        result: Assignment = self._scope.run_transaction(run)
        return result
