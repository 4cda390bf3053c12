"""Background LLM work through the providers' batch interfaces."""
