"""Document storage: the interface, the in-memory fake and the Firestore implementation."""

from shared.core.store.base import DocumentStore, Transaction, check_segment, join_path
from shared.core.store.memory import MemoryStore

__all__ = ["DocumentStore", "MemoryStore", "Transaction", "check_segment", "join_path"]
