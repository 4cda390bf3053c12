"""The edge: where requests, pushes, tasks and schedules enter, and the only layer that builds clients (docs/decisions/0007-layers.md)."""
