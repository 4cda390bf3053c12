"""The capabilities: the product, on the layers below, free of HTTP and of wiring (docs/decisions/0007-layers.md)."""
