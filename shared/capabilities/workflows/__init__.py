"""Durable LangGraph workflows: the Firestore checkpointer (``checkpoint``)."""

from __future__ import annotations

__all__: list[str] = []
