"""Turning a template version, its input values and a tenant's overrides into an
:class:`~shared.ai.llm.types.LLMRequest`, through LangChain's ``ChatPromptTemplate``.

The system message is the template's fixed instructions followed by the fenced preferences
block; the user message is the template's text with the input values. Values are substituted,
never parsed as template text, so braces in CRM data are harmless.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.ai.llm.types import LLMRequest, Message
from shared.ai.prompts.overrides import preferences_block
from shared.core.errors import InvalidInput

if TYPE_CHECKING:
    from langchain_core.prompts import ChatPromptTemplate

    from shared.ai.llm.types import SummaryPrompt
    from shared.ai.prompts.registry import PromptTemplate

_PREFS = "tenant_preferences_block"


@dataclass(frozen=True)
class RenderedPrompt:
    """A template version rendered into a request, remembering the version for usage records."""

    template: PromptTemplate
    request: LLMRequest

    @property
    def template_id(self) -> str:
        """The template's id."""
        return self.template.id

    @property
    def version(self) -> int:
        """The template version this request was rendered from."""
        return self.template.version


_BUILT: dict[tuple[str, int, str, str], ChatPromptTemplate] = {}


def chat_template(template: PromptTemplate) -> ChatPromptTemplate:
    """The LangChain template of this version (built once per process)."""
    key = (template.id, template.version, template.system, template.user)
    if key not in _BUILT:
        from langchain_core.prompts import ChatPromptTemplate

        # The fixed instructions are literal text; only the user message has variables.
        system = template.system.replace("{", "{{").replace("}", "}}") + "{" + _PREFS + "}"
        _BUILT[key] = ChatPromptTemplate.from_messages(
            [("system", system), ("human", template.user)]
        )
    return _BUILT[key]


def declared_inputs(template: PromptTemplate) -> set[str]:
    """The variables LangChain finds in the template text (a test holds them to the declared ones)."""
    return set(chat_template(template).input_variables) - {_PREFS}


def input_values(template: PromptTemplate, variables: dict[str, Any]) -> dict[str, str]:
    """Declared variables with defaults applied, as text.

    Raises:
        InvalidInput: unknown, missing, too long or not among the allowed values; names
        ``variables.<name>``.
    """
    unknown = sorted(set(variables) - set(template.variables))
    if unknown:
        raise InvalidInput(
            f"{template.id} has no variable {unknown[0]!r}; it takes "
            + ", ".join(sorted(template.variables)),
            field=f"variables.{unknown[0]}",
        )
    out: dict[str, str] = {}
    for name, spec in template.variables.items():
        field = f"variables.{name}"
        value = variables.get(name, spec.default)
        if value is None:
            if spec.required:
                raise InvalidInput(f"{name} is required by {template.id}", field=field)
            value = ""
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        if len(text) > spec.max_chars:
            raise InvalidInput(
                f"{name} is {len(text)} characters; {template.id} takes at most {spec.max_chars}",
                field=field,
            )
        if spec.enum is not None and text not in spec.enum:
            raise InvalidInput(f"{name} must be one of {', '.join(spec.enum)}", field=field)
        out[name] = text
    return out


def render(
    template: PromptTemplate, variables: dict[str, Any], overrides: dict[str, Any] | None = None
) -> RenderedPrompt:
    """The request this template version sends for these inputs and this tenant's overrides.

    Raises:
        InvalidInput: a variable is missing, unknown or malformed (see :func:`input_values`).
    """
    values = input_values(template, variables)
    prefs = preferences_block(template, overrides or {})
    messages = chat_template(template).format_messages(
        **values, **{_PREFS: "\n\n" + prefs if prefs else ""}
    )
    system, user = str(messages[0].content), str(messages[1].content)
    request = LLMRequest(
        system=system,
        messages=[Message(role="user", content=user, trusted=template.user_trusted)],
        tier=template.tier,
        response_schema=template.output_schema,
        temperature=template.temperature,
        max_tokens=template.max_tokens,
    )
    return RenderedPrompt(template, request)


def conversation_summary(transcript: str) -> SummaryPrompt:
    """The ``conversation_summary`` template on ``transcript``: what the LLM client sends when a
    conversation overflows its models' window (injected at the edge, since llm sits below us)."""
    from shared.ai.llm.types import SummaryPrompt
    from shared.ai.prompts.registry import default_registry

    rendered = render(default_registry().get("conversation_summary"), {"transcript": transcript})
    return SummaryPrompt(rendered.request, rendered.template_id, str(rendered.version))
