"""Every LLM call in the product goes through this layer (see ``client.LLMClient``)."""

from shared.ai.llm.client import LLMClient
from shared.ai.llm.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    ContextTooLong,
    PromptRejected,
    ProviderError,
)
from shared.ai.llm.types import (
    CallContext,
    LLMRequest,
    LLMResponse,
    Message,
    StreamChunk,
    Tool,
    ToolCall,
    Usage,
)

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
