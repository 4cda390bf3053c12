"""The document-store seam: the interface every Firestore-backed repository is written against.

Paths alternate collection and document ids (``tenants/t1/leads/l1``). Two implementations stand
beside each other: :class:`~shared.core.store.firestore.FirestoreStore` (the real one) and
:class:`~shared.core.store.memory.MemoryStore` (a reference fake for fast unit tests); the suite in
``tests/conformance/test_document_store.py`` holds both to the same behaviour.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

from shared.core.errors import InvalidInput

T = TypeVar("T")
Document = dict[str, Any]
# ``(field, "has_key", key)``: the map ``field`` holds ``key`` set to true. An equality on a map
# entry, which Firestore serves from its automatic single-field indexes (and index merging with
# other equalities), where ``array_contains`` on a large collection needs more.
Operator = Literal["==", "!=", "<", "<=", ">", ">=", "in", "array_contains", "has_key"]
Filter = tuple[str, Operator, Any]

_SEGMENT = re.compile(r"^[A-Za-z0-9_.@:+\-]{1,256}$")


def check_segment(value: str, *, field: str = "id") -> str:
    """Return ``value`` if it is a safe single path segment, else raise naming ``field``.

    Raises:
        InvalidInput: empty, too long, containing '/' or characters outside [A-Za-z0-9_.@:+-],
            or a reserved name ('.', '..', '__x__').
    """
    if (
        not isinstance(value, str)
        or not _SEGMENT.fullmatch(value)
        or value in (".", "..")
        or (value.startswith("__") and value.endswith("__"))
    ):
        raise InvalidInput(
            f"{field} must be 1-256 characters of letters, digits and _.@:+- (got {value!r})",
            field=field,
        )
    return value


def join_path(*segments: str) -> str:
    """Path segments joined with ``/``, each checked as one segment (no slashes, no traversal)."""
    return "/".join(check_segment(s, field="path segment") for s in segments)


class Vector(list[float]):
    """A list of floats stored as a vector field (a Firestore ``Vector``), searchable by
    :meth:`DocumentStore.nearest`."""


_IMMUTABLE = (str, int, float, bool, bytes, datetime, type(None))


def copy_value(value: Any) -> Any:
    """A copy of a stored value, so neither a caller nor the store sees the other's later changes.
    Documents are JSON-like, so only dicts and lists need copying; ``copy.deepcopy`` spent nine
    tenths of an in-memory knowledge search copying embedding floats (issue 18's benchmark)."""
    if isinstance(value, dict):
        return {key: copy_value(item) for key, item in value.items()}
    if isinstance(value, Vector):
        return Vector(value)  # floats are immutable: a shallow copy is a full one
    if isinstance(value, list):
        return [copy_value(item) for item in value]
    if isinstance(value, _IMMUTABLE):
        return value
    return copy.deepcopy(value)


def check_commit(writes: Sequence[tuple[str, Any]], expect: Mapping[str, Any]) -> None:
    """Refuse a :meth:`DocumentStore.commit` that expects a document it does not write."""
    missing = set(expect) - {path for path, _ in writes}
    if missing:
        raise ValueError(f"documents expected but not written: {sorted(missing)}")


class Transaction(Protocol):
    """Reads must come before writes (Firestore's rule); writes apply atomically at commit."""

    def get(self, path: str) -> Document | None:
        """The document at ``path`` as of the transaction's snapshot, or None when absent."""
        ...

    def set(self, path: str, data: Document) -> None:
        """Create or replace the document at ``path`` when the transaction commits."""
        ...

    def delete(self, path: str) -> None:
        """Delete the document at ``path`` when the transaction commits."""
        ...


class DocumentStore(Protocol):
    """Documents by slash-separated path, as Firestore holds them: reads, writes, conditional
    writes, increments, transactions, queries and vector search. Firestore and an in-memory store
    implement it, held to one conformance suite."""

    def get(self, path: str) -> Document | None:
        """The document at ``path``, or None when absent."""
        ...

    def get_many(self, paths: Sequence[str]) -> list[Document | None]:
        """Documents in the order of ``paths``; None for each absent one."""
        ...

    def set(self, path: str, data: Document) -> None:
        """Create or replace the document at ``path``."""
        ...

    def set_many(self, items: Sequence[tuple[str, Document]]) -> None:
        """Create or replace many documents (in batches; not one atomic unit)."""
        ...

    def create(self, path: str, data: Document) -> bool:
        """Create the document; return False (and change nothing) when it already exists."""
        ...

    def create_many(self, items: Sequence[tuple[str, Document]]) -> list[bool]:
        """Create each document that does not exist yet, changing none that does; per item,
        whether it was created. Written in batches (one commit for many, not one atomic unit)."""
        ...

    def delete(self, path: str) -> None:
        """Delete the document at ``path`` (nothing happens when it is absent)."""
        ...

    def get_versioned(self, path: str) -> tuple[Document | None, Any]:
        """The document and an opaque version of it for :meth:`set_if` (None when absent)."""
        ...

    def set_if(self, path: str, data: Document, version: Any) -> bool:
        """Write ``data``'s top-level fields (other fields are kept) only if the document is
        still as :meth:`get_versioned` saw it (``version`` None: only if it still does not
        exist); False, with nothing written, when it changed. Optimistic: no lock is held, so
        writers never wait on each other (a hot document's contention costs a retry, not a
        lock timeout)."""
        ...

    def commit(
        self, writes: Sequence[tuple[str, Document | None]], expect: Mapping[str, Any]
    ) -> list[Any] | None:
        """Apply ``writes`` (``(path, data)`` replaces a document, ``(path, None)`` deletes it)
        atomically, in one commit, only if each document in ``expect`` is still at its version
        (as :meth:`get_versioned` or an earlier commit gave it; None: only if still absent).
        Every path in ``expect`` must be written. Returns each write's new version (None for a
        delete), or None, with nothing written, when a document in ``expect`` changed. No lock is
        held: see :func:`~shared.core.store.optimistic.run_optimistic`."""
        ...

    def increment(self, path: str, deltas: Mapping[tuple[str, ...], float]) -> None:
        """Atomically add each delta to the (nested) numeric field at its key path, creating the
        document and fields as needed. Key path parts are literal field names (dots allowed)."""
        ...

    def run_transaction(self, fn: Callable[[Transaction], T]) -> T:
        """Run ``fn`` atomically (retried by the backend on contention) and return its result.

        Raises:
            TransientError: the backend was unavailable or contention did not clear.
        """
        ...

    def query(
        self,
        collection: str,
        *,
        where: Sequence[Filter] = (),
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        """(document id, data) pairs of the collection at ``collection`` that match ``where``."""
        ...

    def nearest(
        self,
        collection: str,
        *,
        field: str,
        vector: list[float],
        limit: int,
        where: Sequence[Filter] = (),
    ) -> list[tuple[str, Document, float]]:
        """The ``limit`` documents whose :class:`Vector` ``field`` is closest to ``vector`` by cosine
        distance (0 = same direction, 2 = opposite), nearest first, as (id, data, distance)."""
        ...

    def delete_collection(self, collection: str) -> int:
        """Delete every document of a collection (not its subcollections); return how many."""
        ...


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity of two vectors: what :meth:`DocumentStore.find_nearest` ranks by (as
    ``1 - cosine``, Firestore's COSINE distance). Here, not in embeddings, so the store layer
    depends on nothing above it."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = sum(x * x for x in a) ** 0.5
    nb = sum(y * y for y in b) ** 0.5
    return dot / (na * nb) if na and nb else 0.0
