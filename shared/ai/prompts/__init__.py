"""Prompt templates: a versioned registry, rendering with tenant overrides, evaluation."""
