"""The providers' adapters: OpenAI, Anthropic and Google, through their official SDKs."""
