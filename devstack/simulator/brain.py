"""Deterministic, useful answers: text built from the prompt, tool calls with arguments that fit
the tool's schema, and structured outputs valid against the requested JSON schema.

The same conversation always yields the same answer, which is what lets a stream broken
mid-way be continued: the continuation is the rest of that same answer.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from devstack.simulator.compose import PromptFacts
from shared.ai.llm.providers.base import CONTINUE_INSTRUCTION as CONTINUE_MARKER

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_STOP = {
    "this",
    "that",
    "with",
    "from",
    "have",
    "what",
    "your",
    "about",
    "there",
    "their",
    "which",
    "would",
    "could",
    "should",
    "please",
    "into",
    "than",
    "them",
    "they",
    "will",
    "when",
    "were",
}


@dataclass
class Conversation:
    system: str = ""
    turns: list[tuple[str, str]] = field(default_factory=list)  # (role, text)
    tools: list[dict[str, Any]] = field(default_factory=list)  # {"name", "parameters"}
    schema: dict[str, Any] | None = None
    max_tokens: int = 1024
    last_is_tool_result: bool = False
    tool_result_name: str | None = None


@dataclass
class Answer:
    text: str = ""
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(
        default_factory=list
    )  # id, name, args
    structured: dict[str, Any] | None = None
    finish_reason: str = "stop"


def count_tokens(text: str) -> int:
    """About four characters a token, as the providers' English tokenisers average."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def prompt_tokens(conv: Conversation) -> int:
    return count_tokens(conv.system) + sum(count_tokens(t) + 3 for _, t in conv.turns) + 3


def _seed(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12], 16)


def _keywords(text: str, limit: int = 6) -> list[str]:
    seen: list[str] = []
    for word in _WORD.findall(text):
        low = word.lower()
        if low not in _STOP and low not in seen:
            seen.append(low)
        if len(seen) == limit:
            break
    return seen or ["request"]


def _last_user(conv: Conversation) -> str:
    for role, text in reversed(conv.turns):
        if role == "user":
            return text
    return ""


_CITED = re.compile(r"\[([A-Za-z0-9_.:\-]{2,80})\]")


def instance_of(
    schema: dict[str, Any],
    words: list[str],
    path: str = "",
    cited: list[str] | None = None,
    facts: PromptFacts | None = None,
) -> Any:
    """A value that validates against ``schema`` (the subset of JSON schema LLM APIs accept);
    with ``facts``, strings are composed from the prompt (:mod:`devstack.simulator.compose`)."""
    name = path.rsplit(".", 1)[-1]
    if cited and schema.get("type") == "array" and (name.endswith("ids") or name == "sources"):
        pick = _seed(path, *words) % len(cited)
        return [cited[pick], cited[(pick + 1) % len(cited)]][: min(2, len(cited))]
    if "enum" in schema:
        options = schema["enum"]
        return options[_seed(path, *words) % len(options)]
    if "const" in schema:
        return schema["const"]
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            first = next(
                (s for s in schema[combinator] if s.get("type") != "null"), schema[combinator][0]
            )
            return instance_of(first, words, path, cited, facts)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        props: dict[str, Any] = schema.get("properties", {})
        return {
            key: instance_of(sub, words, f"{path}.{key}", cited, facts)
            for key, sub in props.items()
        }
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), min(2, int(schema.get("maxItems", 2))))
        return [
            instance_of(
                schema.get("items", {"type": "string"}), words, f"{path}[{i}]", cited, facts
            )
            for i in range(count)
        ]
    if kind in ("integer", "number"):
        return _number(schema, kind, _seed(path, *words))
    if kind == "boolean":
        return _seed(path, *words) % 2 == 0
    if kind == "null":
        return None
    return _string(schema, words, path, facts)


def _number(schema: dict[str, Any], kind: str, seed: int) -> int | float:
    """A number within the schema's bounds, picked by ``seed``."""
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", low + 100))
    span = max(high - low, 0)
    value = low + (seed % 1000) / 1000 * span
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        value = schema["exclusiveMinimum"] + min(1, span / 2 or 1)
    if kind == "integer":
        return int(min(max(math.ceil(value), math.ceil(low)), math.floor(high)))
    return float(round(min(value, high), 3))


def _string(schema: dict[str, Any], words: list[str], path: str, facts: PromptFacts | None) -> str:
    """A string for the field at ``path``: composed from the prompt's facts when given, a date
    for a date format, cut or padded to the schema's length bounds."""
    field_name = path.rsplit(".", 1)[-1] or "value"
    if facts is not None:
        text = facts.text_for(re.sub(r"\[\d+\]$", "", field_name), path)
    else:
        text = f"{field_name.replace('_', ' ')} for {' '.join(words[:3])}"
    if schema.get("format") == "date-time":
        return "2026-11-24T10:00:00Z"
    if schema.get("format") == "date":
        return "2026-11-24"
    max_len = int(schema.get("maxLength", 200))
    text = text[:max_len]
    min_len = int(schema.get("minLength", 0))
    return text + "x" * max(0, min_len - len(text))


_EXCERPT = re.compile(r"^\[([A-Za-z0-9_.:\-]{2,80})\]\s*(.*)$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def _excerpts(prompt: str) -> tuple[str, list[tuple[str, str]]]:
    """The prompt's text before its excerpt lines, and the excerpts (``[id] ...`` lines, each
    running on until the next one)."""
    head: list[str] = []
    found: list[tuple[str, str]] = []
    for line in prompt.splitlines():
        match = _EXCERPT.match(line.strip())
        if match:
            body = match.group(2)
            # "[id] 2026-01-02 knowledge: text": the text follows the first colon.
            found.append((match.group(1), body.split(": ", 1)[-1]))
        elif found:
            found[-1] = (found[-1][0], f"{found[-1][1]}\n{line}")
        else:
            head.append(line)
    return "\n".join(head), found


def _grounded_answer(question: str, excerpts: list[tuple[str, str]]) -> str:
    """What a careful model does with retrieved excerpts: the sentences that best match the
    question, each followed by the id of the excerpt it comes from; or a plain refusal."""
    wanted = set(_keywords(question, limit=12)) - {
        "request",
        "question",
        "excerpts",
        "date",
        "source",
        "text",
    }
    scored = []
    for order, (doc_id, text) in enumerate(excerpts):
        for sentence in _SENTENCE.split(text):
            sentence = sentence.strip(" -*#>\t")
            words = {w.lower() for w in _WORD.findall(sentence)}
            overlap = len(wanted & words)
            if overlap and len(sentence) > 20:
                scored.append((-overlap, order, sentence, doc_id))
    scored.sort()
    picked: list[str] = []
    used: set[str] = set()
    best = -scored[0][0] if scored else 0
    for negative, _, sentence, doc_id in scored:
        if -negative * 2 < best:  # weaker than half the best match: not worth saying
            break
        if doc_id in used and len(used) < len({d for *_, d in scored}):
            continue
        used.add(doc_id)
        end = "" if sentence.endswith((".", "!", "?")) else "."
        picked.append(f"{sentence[:300]}{end} [{doc_id}]")
        if len(picked) == 3:
            break
    return " ".join(picked) or "The excerpts I was given do not answer this question."


def _text_answer(conv: Conversation) -> str:
    question = _last_user(conv)
    head_text, excerpts = _excerpts(question)
    if excerpts:
        return _grounded_answer(head_text, excerpts)[: max(40, conv.max_tokens * 4)]
    words = _keywords(question)
    head = question.strip().splitlines()[0][:160] if question.strip() else "your request"
    sentences = [f"Here is my answer about: {head}."]
    if conv.last_is_tool_result:
        sentences.append(f"The {conv.tool_result_name or 'tool'} result shows what was needed.")
    templates = [
        "The key point is {a}, which matters because of {b}.",
        "Looking at {a} together with {b}, the next step is to confirm {c}.",
        "In short, {a} and {c} point the same way.",
        "A sensible recommendation is to follow up on {b} this week.",
        "Consider how {c} affects {a} before deciding.",
    ]
    start = _seed(conv.system, question) % len(templates)
    budget_chars = max(40, conv.max_tokens * 4)
    i = 0
    while sum(len(s) + 1 for s in sentences) < min(budget_chars, 700) and i < len(templates):
        t = templates[(start + i) % len(templates)]
        a, b, c = (
            (words * 3)[i % len(words)],
            (words * 3)[(i + 1) % len(words)],
            (words * 3)[(i + 2) % len(words)],
        )
        sentences.append(t.format(a=a, b=b, c=c))
        i += 1
    text = " ".join(sentences)
    return text[:budget_chars]


def answer(conv: Conversation) -> Answer:
    words = _keywords(_last_user(conv) + " " + conv.system)
    if conv.tools and not conv.last_is_tool_result:
        question = _last_user(conv).lower()
        tool = next((t for t in conv.tools if t["name"].lower() in question), conv.tools[0])
        args = instance_of(tool.get("parameters") or {"type": "object"}, words, tool["name"])
        call_id = f"call_{_seed(tool['name'], question) % 10**10:010d}"
        return Answer(
            tool_calls=[(call_id, tool["name"], args if isinstance(args, dict) else {})],
            finish_reason="tool_calls",
        )
    if conv.schema is not None:
        # Bracketed ids in the prompt ("[doc-1] ...") are sources a model would cite: fields
        # named like "source_ids" or "sources" get them, as a grounded answer would.
        cited = list(dict.fromkeys(_CITED.findall(_last_user(conv))))
        facts = PromptFacts.parse(_last_user(conv))
        value = instance_of(conv.schema, words, cited=cited, facts=facts)
        return Answer(structured=value if isinstance(value, dict) else {"value": value})
    text = _text_answer(conv)
    finish = "length" if len(text) >= conv.max_tokens * 4 else "stop"
    return Answer(text=text, finish_reason=finish)


def split_continuation(
    conv: Conversation, anthropic_prefill: str | None = None
) -> tuple[Conversation, str]:
    """If ``conv`` asks to continue an interrupted answer, return the original conversation and
    the partial text already delivered; else ``conv`` and ''."""
    if anthropic_prefill is not None:
        return conv, anthropic_prefill
    turns = conv.turns
    if len(turns) >= 2 and turns[-1] == ("user", CONTINUE_MARKER) and turns[-2][0] == "assistant":
        original = Conversation(**{**conv.__dict__, "turns": turns[:-2]})
        return original, turns[-2][1]
    return conv, ""


def chunks(text: str, words_per_chunk: int = 3) -> list[str]:
    parts = re.findall(r"\S+\s*", text)
    return [
        "".join(parts[i : i + words_per_chunk]) for i in range(0, len(parts), words_per_chunk)
    ] or [""]
