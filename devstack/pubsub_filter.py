"""Pub/Sub subscription filters, applied by the local push relay (``devstack/push_relay.py``).

The Pub/Sub emulator stores a subscription's ``filter`` but does not apply it: every message of
the topic is delivered (checked against the emulator the gcloud SDK ships). In the cloud, Pub/Sub
acknowledges a message that does not match a subscription's filter without delivering it, so a
push function never sees it. The relay does the same, so that locally, as in the cloud,
``scoring_events`` receives only ``lead.scoring_requested`` and not every workflow announcement
(measured in ``tests/bench/bench_workflow_load.py``: the three filtered functions and the relay
were about a fifth of the CPU of a workflow run).

The grammar is the documented one (https://cloud.google.com/pubsub/docs/subscription-message-filter):
``attributes.KEY = "v"``, ``!=``, ``attributes:KEY`` (has the key), ``hasPrefix(attributes.KEY,
"p")``, ``NOT`` (or ``-``), ``AND``, ``OR`` and parentheses; ``AND`` and ``OR`` do not mix
without parentheses. A filter outside it raises :class:`ValueError` when the relay starts, so a
subscription is never silently delivered everything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

Predicate = Callable[[Mapping[str, str]], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<attr>attributes\.[A-Za-z0-9_.\-]+|attributes\.`[^`]+`)
      | (?P<has>attributes:[A-Za-z0-9_.\-]+|attributes:`[^`]+`)
      | (?P<op>!=|=|\(|\)|,|-)
      | (?P<word>AND|OR|NOT|hasPrefix)
    )""",
    re.VERBOSE,
)


def compile_filter(text: str) -> Predicate:
    """A predicate over a message's attributes; an empty filter matches every message."""
    tokens = _tokenize(text)
    if not tokens:
        return lambda attributes: True
    parser = _Parser(tokens, text)
    predicate = parser.expression()
    if parser.pos != len(tokens):
        raise ValueError(f"filter {text!r}: unexpected {tokens[parser.pos][1]!r}")
    return predicate


def equality(text: str) -> tuple[str, str] | None:
    """(key, value) when the filter is one equality, ``attributes.KEY = "value"``; else None."""
    tokens = _tokenize(text)
    if [kind for kind, _ in tokens] != ["attr", "op", "string"] or tokens[1][1] != "=":
        return None
    return _key(tokens[0][1]), str(json.loads(tokens[2][1]))


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise ValueError(f"filter {text!r}: cannot read from {text[pos:]!r}")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return tokens


def _key(token: str) -> str:
    key = token.split(".", 1)[1] if token.startswith("attributes.") else token.split(":", 1)[1]
    return key.strip("`")


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens, self.text, self.pos = tokens, text, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        if self.pos >= len(self.tokens):
            raise ValueError(f"filter {self.text!r}: ends early")
        got_kind, got = self.tokens[self.pos]
        if got_kind != kind or (value is not None and got != value):
            raise ValueError(f"filter {self.text!r}: expected {value or kind}, got {got!r}")
        self.pos += 1
        return got

    def expression(self) -> Predicate:
        terms = [self.unary()]
        joiner = None
        while self.peek() in ("AND", "OR"):
            word = self.take("word")
            if joiner not in (None, word):
                raise ValueError(f"filter {self.text!r}: AND and OR need parentheses to mix")
            joiner = word
            terms.append(self.unary())
        if len(terms) == 1:
            return terms[0]
        if joiner == "AND":
            return lambda attributes: all(term(attributes) for term in terms)
        return lambda attributes: any(term(attributes) for term in terms)

    def unary(self) -> Predicate:
        if self.peek() in ("NOT", "-"):
            self.pos += 1
            inner = self.unary()
            return lambda attributes: not inner(attributes)
        if self.peek() == "(":
            self.pos += 1
            inner = self.expression()
            self.take("op", ")")
            return inner
        if self.peek() == "hasPrefix":
            self.pos += 1
            self.take("op", "(")
            key = _key(self.take("attr"))
            self.take("op", ",")
            prefix = json.loads(self.take("string"))
            self.take("op", ")")
            return lambda attributes: (
                str(attributes.get(key, "")).startswith(prefix) and (key in attributes)
            )
        if self.pos < len(self.tokens) and self.tokens[self.pos][0] == "has":
            key = _key(self.take("has"))
            return lambda attributes: key in attributes
        key = _key(self.take("attr"))
        op = self.take("op")
        if op not in ("=", "!="):
            raise ValueError(f"filter {self.text!r}: expected = or !=, got {op!r}")
        value = json.loads(self.take("string"))
        if op == "=":
            return lambda attributes: attributes.get(key) == value
        return lambda attributes: attributes.get(key) != value
