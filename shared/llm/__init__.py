"""Every LLM call in the product goes through this layer (see ``client.LLMClient``)."""

from shared.llm.client import CallContext, LLMClient
from shared.llm.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    ContextTooLong,
    PromptRejected,
    ProviderError,
)
from shared.llm.types import LLMRequest, LLMResponse, Message, StreamChunk, Tool, ToolCall, Usage

__all__ = [
    "AllProvidersFailed",
    "BudgetExceeded",
    "CallContext",
    "ContextTooLong",
    "LLMClient",
    "LLMRequest",
    "LLMResponse",
    "Message",
    "PromptRejected",
    "ProviderError",
    "StreamChunk",
    "Tool",
    "ToolCall",
    "Usage",
]
