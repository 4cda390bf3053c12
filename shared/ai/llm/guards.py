"""Guards on what leaves for a provider: prompt-injection detection on untrusted text, and PII
redaction, each under the tenant's policy.

Injection detection is a set of weighted patterns for the phrasings attacks use (overriding
instructions, role hijacking, exfiltrating the system prompt, fake chat-markup). It flags; under
``block`` it also refuses the call. Either way a security event is logged and counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from shared.ai.llm.errors import PromptRejected
from shared.core.tenancy.security import record_security_event

InjectionPolicy = Literal["off", "flag", "block"]
PiiPolicy = Literal["off", "redact"]
PROMPT_INJECTION = "prompt_injection"

_PATTERNS: list[tuple[float, re.Pattern[str]]] = [
    (
        0.9,
        re.compile(
            r"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|system|your)\b.{0,30}\b(instructions?|prompts?|rules|directions)\b",
            re.I | re.S,
        ),
    ),
    (
        0.8,
        re.compile(
            r"\b(reveal|print|show|repeat|leak|output)\b.{0,40}\b(system prompt|hidden (prompt|instructions)|your instructions|initial prompt)\b",
            re.I | re.S,
        ),
    ),
    (
        0.6,
        re.compile(
            r"\byou are now\b|\bfrom now on,? you\b|\bact as (an? )?(unfiltered|unrestricted|dan|developer)\b",
            re.I,
        ),
    ),
    (0.6, re.compile(r"\b(developer|god|jailbreak|dan) mode\b", re.I)),
    (
        0.7,
        re.compile(
            r"<\|im_start\|>|<\|system\|>|\[/?INST\]|^\s*(system|assistant)\s*:", re.I | re.M
        ),
    ),
    (0.5, re.compile(r"\bnew instructions?\b\s*:", re.I)),
    (
        0.5,
        re.compile(
            r"\b(send|email|forward|post)\b.{0,40}\b(all|every)\b.{0,30}\b(customers?|contacts?|records?|data)\b.{0,30}\bto\b",
            re.I | re.S,
        ),
    ),
]
THRESHOLD = 0.5


@dataclass(frozen=True)
class InjectionFinding:
    """How much an untrusted text looks like a prompt injection, and which patterns matched."""

    score: float
    matches: list[str] = field(default_factory=list)

    @property
    def suspicious(self) -> bool:
        """At or over the threshold that flags (or blocks, by policy) the call."""
        return self.score >= THRESHOLD


def scan_injection(text: str) -> InjectionFinding:
    """Score ``text`` against the known injection patterns (instructions to ignore the system
    prompt, role play, exfiltration)."""
    score, matches = 0.0, []
    for weight, pattern in _PATTERNS:
        found = pattern.search(text)
        if found:
            score = max(score, weight) + (0.1 if score else 0.0)
            matches.append(found.group(0)[:80])
    return InjectionFinding(min(score, 1.0), matches)


def check_untrusted(
    texts: list[str], policy: str, *, tenant_id: str, feature: str
) -> list[InjectionFinding]:
    """Scan untrusted texts; log a security event for each suspicious one; raise under ``block``.

    Raises:
        PromptRejected: a suspicious text under the ``block`` policy.
    """
    if policy == "off":
        return []
    findings = [f for f in (scan_injection(t) for t in texts) if f.suspicious]
    for finding in findings:
        record_security_event(
            PROMPT_INJECTION,
            "possible prompt injection in untrusted text",
            tenant_id=tenant_id,
            feature=feature,
            score=f"{finding.score:.2f}",
            matched=finding.matches[0],
            action=policy,
        )
    if findings and policy == "block":
        raise PromptRejected(
            "the request contains text that tries to override instructions", field="messages"
        )
    return findings


_PII: list[tuple[str, re.Pattern[str]]] = [
    # Bounded parts (RFC 5321: 64 for the local part, 253 for the domain): unbounded ones made
    # every start position scan to the end of the text, quadratic on crafted input (L3).
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}\b")),
    ("CARD", re.compile(r"\b(?:\d[ -]?){13,19}\b")),
    ("IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")),
    ("SSN", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    (
        "PHONE",
        re.compile(r"(?<![\w-])\+?\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}(?![\w-])"),
    ),
]


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact_pii(text: str) -> tuple[str, dict[str, int]]:
    """Replace emails, card numbers (Luhn-valid), IBANs, US SSNs and phone numbers with tags.

    Returns the redacted text and how many of each kind were replaced.
    """
    counts: dict[str, int] = {}

    for kind, pattern in _PII:

        def sub(match: re.Match[str], kind: str = kind) -> str:
            value = match.group(0)
            if kind == "CARD" and not _luhn(re.sub(r"\D", "", value)):
                return value
            counts[kind] = counts.get(kind, 0) + 1
            return f"[{kind}]"

        text = pattern.sub(sub, text)
    return text, counts
