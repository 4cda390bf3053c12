"""The AI services: prompts > llm > embeddings. They call or prepare models and know nothing of a CRM use (docs/decisions/0007-layers.md)."""
