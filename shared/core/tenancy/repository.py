"""A typed, tenant-scoped repository base: one pydantic model per collection."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from shared.core.store.base import check_segment

if TYPE_CHECKING:
    from shared.core.store.base import Filter
    from shared.core.tenancy.scope import TenantStore

M = TypeVar("M", bound=BaseModel)


class TenantRepository(Generic[M]):
    """Reads and writes ``tenants/{tenant}/{collection}/{id}`` as instances of ``model``."""

    collection: ClassVar[str]
    model: type[M]

    def __init__(self, scope: TenantStore, model: type[M]) -> None:
        self.scope = scope
        self.model = model

    def doc_path(self, doc_id: str) -> str:
        """Where the record ``doc_id`` lives in this tenant."""
        return self.scope.path(self.collection, check_segment(doc_id, field="id"))

    def get(self, doc_id: str) -> M | None:
        """The record, validated as the repository's model, or None."""
        data = self.scope.get(self.doc_path(doc_id))
        return self.model.model_validate(data) if data is not None else None

    def put(self, doc_id: str, record: M) -> None:
        """Store the record under ``doc_id``."""
        self.scope.set(self.doc_path(doc_id), record.model_dump(mode="python"))

    def list(
        self,
        *,
        where: tuple[Filter, ...] = (),
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = 100,
    ) -> list[M]:
        """The tenant's records that match, validated as the model."""
        rows = self.scope.query(
            self.scope.path(self.collection),
            where=where,
            order_by=order_by,
            descending=descending,
            limit=limit,
        )
        return [self.model.model_validate(data) for _, data in rows]
