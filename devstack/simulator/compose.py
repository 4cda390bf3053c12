"""Plausible, deterministic text for the string fields of a structured answer (issue 16: the
demo must read like the product, not "title for insight type churn").

Everything is composed from the prompt itself: the JSON records it carries (a lead, a
customer), its ``Key: value`` lines (``Goal:``, ``Insight type:``, ``Model score:``) and its
excerpts (``[id] date channel: text``, cited by id as a grounded model would). Nothing is
invented; contact details (emails, phone numbers) are never repeated. The same prompt always
gives the same text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

_EXCERPT = re.compile(r"^\[([A-Za-z0-9_.:\-]{2,80})\]\s*(.*)$")
_KEY_LINE = re.compile(r"^([A-Z][A-Za-z ]{1,30}):\s*(\S.{0,200})$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_PRIVATE = ("email", "phone", "mobile", "address", "_id", "id")


def _seed(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:8], 16)


def _records(text: str) -> list[dict[str, Any]]:
    """The JSON objects written into the prompt (balanced braces, parsed)."""
    found: list[dict[str, Any]] = []
    depth, start = 0, -1
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
            if depth == 0:
                try:
                    value = json.loads(text[start : i + 1])
                except ValueError:
                    continue
                if isinstance(value, dict):
                    found.append(value)
    return found


def _flatten(record: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in record.items():
        if key.startswith("_") or any(key.lower().endswith(p) for p in _PRIVATE):
            continue
        if isinstance(value, dict):
            _flatten(value, out)
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value).strip()
            if text and len(text) <= 120 and "@" not in text:
                out.setdefault(key.lower(), text)


@dataclass
class PromptFacts:
    facts: dict[str, str] = field(default_factory=dict)  # from the JSON records
    lines: dict[str, str] = field(default_factory=dict)  # "goal" -> "invite to the webinar"
    excerpts: list[tuple[str, str]] = field(default_factory=list)  # (id, text)

    @classmethod
    def parse(cls, prompt: str) -> PromptFacts:
        parsed = cls()
        for record in _records(prompt):
            _flatten(record, parsed.facts)
        for raw in prompt.splitlines():
            line = raw.strip()
            excerpt = _EXCERPT.match(line)
            if excerpt:
                body = excerpt.group(2).split(": ", 1)[-1].strip()
                if body:
                    parsed.excerpts.append((excerpt.group(1), body))
                continue
            key_line = _KEY_LINE.match(line)
            if key_line:
                parsed.lines.setdefault(key_line.group(1).lower(), key_line.group(2).strip())
        return parsed

    # --- who and what ------------------------------------------------------------------------
    @property
    def person(self) -> str | None:
        f = self.facts
        full = " ".join(p for p in (f.get("first_name"), f.get("last_name")) if p)
        return full or f.get("name") or f.get("contact_name")

    @property
    def company(self) -> str | None:
        return (
            self.facts.get("company") or self.facts.get("account") or self.facts.get("company_name")
        )

    @property
    def topic(self) -> str:
        for key in ("goal", "insight type", "topic", "question", "request"):
            if key in self.lines:
                return self.lines[key].replace("_", " ").rstrip(".")
        for key in ("industry", "product", "source", "stage"):
            if key in self.facts:
                return f"{key} {self.facts[key]}"
        return "the next step"

    def _who(self) -> str:
        if self.person and self.company:
            return f"{self.person} at {self.company}"
        return self.person or self.company or "this contact"

    def _profile(self) -> str:
        parts = []
        if self.facts.get("title"):
            parts.append(self.facts["title"])
        for key in ("industry", "employees", "source", "lifecycle_stage", "stage", "status"):
            if key in self.facts:
                parts.append(f"{key.replace('_', ' ')} {self.facts[key]}")
        return ", ".join(parts[:4])

    def _cited(self, salt: str, count: int = 2) -> list[str]:
        """Excerpt sentences, each with the id of the excerpt it comes from."""
        if not self.excerpts:
            return []
        start = _seed(salt) % len(self.excerpts)
        out = []
        for i in range(min(count, len(self.excerpts))):
            doc_id, text = self.excerpts[(start + i) % len(self.excerpts)]
            sentence = _SENTENCE.split(text)[0].strip()[:220]
            end = "" if sentence.endswith((".", "!", "?")) else "."
            out.append(f"{sentence}{end} [{doc_id}]")
        return out

    # --- a value for one field -----------------------------------------------------------------
    def text_for(self, name: str, path: str) -> str:
        key = name.lower()
        who, topic = self._who(), self.topic
        if key in ("subject", "headline"):
            return f"{self.company or self.person or 'Following up'}: {topic}"
        if key == "title":
            kind = self.lines.get("insight type", "").replace("_", " ")
            base = f"{kind.capitalize()} signal" if kind else topic.capitalize()
            return f"{base} for {who}"
        if key in ("call_to_action", "question"):
            return f"Would a short call next week to talk about {topic} suit you?"
        if key in ("body", "message", "reply", "draft", "text", "content"):
            greeting = f"Hi {self.facts.get('first_name') or self.person or 'there'},"
            reason = f"I am reaching out regarding {topic}"
            if self.company:
                reason += f" at {self.company}"
            evidence = " ".join(self._cited(path, 1))
            profile = self._profile()
            middle = f" Your record shows {profile}." if profile else ""
            return f"{greeting} {reason}.{middle} {evidence}".strip()
        if key in ("action", "next_step", "recommendation"):
            return f"Follow up with {who} about {topic}"
        if key in ("priority_reason", "estimated_impact", "impact"):
            return f"Addresses {topic} for {who}"
        sentences = self._cited(path)
        if sentences:
            return " ".join(sentences)
        summary = who[:1].upper() + who[1:]
        profile = self._profile()
        if profile:
            summary += f" ({profile})"
        score = self.lines.get("model score")
        if score:
            summary += f", model score {score}"
        return f"{summary}; relevant to {topic}."
