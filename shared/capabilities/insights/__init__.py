"""Customer insights: the customer-history index (and, to come, insights and chat)."""

from __future__ import annotations

__all__: list[str] = []
