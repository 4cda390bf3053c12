"""An offline LLM provider simulator speaking the OpenAI, Anthropic and Gemini wire formats."""
