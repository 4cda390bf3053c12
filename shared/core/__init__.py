"""The platform core: what any multi-tenant service on Google Cloud would need; nothing here knows about AI or CRMs (docs/decisions/0007-layers.md)."""
