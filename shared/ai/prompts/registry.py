"""The prompt registry: every prompt the product sends, versioned in the repository.

Each ``templates/<id>.v<version>.json`` declares the template id and version, the model tier it
expects, its input variables, what a tenant may override, its output schema and its token
budget. ``templates/rollout.json`` splits traffic between versions by percentage, keyed on a
routing key (a lead id, a run id) so one lead always sees the same version.

Loading reads a few small JSON files (well under a millisecond each); LangChain is imported only
when a template is first rendered (see :mod:`shared.ai.prompts.render`).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.core.errors import ConfigError, InvalidInput, NotFound

TEMPLATE_DIR = Path(__file__).with_name("templates")
ROLLOUT_FILE = TEMPLATE_DIR / "rollout.json"


class VariableSpec(BaseModel):
    """One template variable: its type, whether it is required, and whether a tenant may override
    it."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    required: bool = False
    default: Any = None
    max_chars: int = Field(default=2000, ge=1)
    enum: list[str] | None = None


class OverrideSpec(BaseModel):
    """A value a tenant may set: text, or a list of short texts (``kind="list"``)."""

    model_config = ConfigDict(extra="forbid")

    description: str = ""
    kind: Literal["text", "list"] = "text"
    default: Any = ""
    max_chars: int = Field(default=500, ge=1)
    max_items: int = Field(default=20, ge=1)


class PromptTemplate(BaseModel):
    """One version of a prompt template: instructions, text, variables, model tier and output
    schema. Versions are immutable; a change is a new version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: int = Field(ge=1)
    description: str
    tier: str
    feature: str = "other"  # the usage ledger's feature (budgets per feature)
    max_tokens: int = Field(ge=1, le=64_000)
    temperature: float = 0.2
    system: str
    user: str
    user_trusted: bool = False  # the user message carries CRM or customer text: scan it
    variables: dict[str, VariableSpec]
    overridable: dict[str, OverrideSpec]
    output_schema: dict[str, Any] | None = None

    @property
    def ref(self) -> str:
        """``id@v<version>``: how usage records and reports name this version."""
        return f"{self.id}@v{self.version}"


class Registry:
    """Every template version shipped in ``templates/``, and the rollout that splits traffic between
    a template's versions."""

    def __init__(self, templates: list[PromptTemplate], rollout: dict[str, dict[str, int]]) -> None:
        self._by_id: dict[str, dict[int, PromptTemplate]] = {}
        for template in templates:
            versions = self._by_id.setdefault(template.id, {})
            if template.version in versions:
                raise ConfigError(f"prompt {template.ref} is declared twice")
            versions[template.version] = template
        self._rollout: dict[str, list[tuple[int, int]]] = {}
        for template_id, shares in rollout.items():
            if template_id.startswith("_"):
                continue
            if template_id not in self._by_id:
                raise ConfigError(f"rollout names unknown prompt {template_id!r}")
            weights = sorted((int(v), int(w)) for v, w in shares.items())
            unknown = [v for v, _ in weights if v not in self._by_id[template_id]]
            if unknown or sum(w for _, w in weights) != 100:
                raise ConfigError(
                    f"rollout of {template_id!r} must give known versions shares summing to 100"
                )
            self._rollout[template_id] = weights

    @classmethod
    def load(cls, directory: Path = TEMPLATE_DIR) -> Registry:
        """The registry in ``directory`` (the packaged templates by default)."""
        templates = []
        for path in sorted(directory.glob("*.v*.json")):
            try:
                templates.append(PromptTemplate.model_validate_json(path.read_text()))
            except ValueError as exc:
                raise ConfigError(f"prompt template {path.name} is malformed: {exc}") from exc
        rollout_file = directory / ROLLOUT_FILE.name
        rollout = json.loads(rollout_file.read_text()) if rollout_file.exists() else {}
        return cls(templates, rollout)

    def ids(self) -> list[str]:
        """The template ids, sorted."""
        return sorted(self._by_id)

    def versions(self, template_id: str) -> list[PromptTemplate]:
        """Every version of a template, oldest first."""
        return [self._known(template_id)[v] for v in sorted(self._known(template_id))]

    def get(self, template_id: str, version: int | None = None) -> PromptTemplate:
        """One version (the latest when ``version`` is None).

        Raises:
            NotFound: no such template or version.
        """
        versions = self._known(template_id)
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise NotFound(
                f"prompt {template_id!r} has no version {version}; known: "
                + ", ".join(str(v) for v in sorted(versions))
            )
        return versions[version]

    def shares(self, template_id: str) -> dict[int, int]:
        """Percent of traffic per version."""
        weights = self._rollout.get(template_id)
        return dict(weights) if weights else {self.get(template_id).version: 100}

    def choose(self, template_id: str, routing_key: str | None) -> PromptTemplate:
        """The version this routing key gets: the same key always gets the same version.

        Without a key (nothing to keep stable) the version with the largest share is used.
        """
        weights = self._rollout.get(template_id)
        if not weights:
            return self.get(template_id)
        if routing_key is None:
            return self.get(template_id, max(weights, key=lambda vw: (vw[1], vw[0]))[0])
        digest = hashlib.sha256(f"{template_id}:{routing_key}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") % 100
        upto = 0
        for version, weight in weights:
            upto += weight
            if bucket < upto:
                return self.get(template_id, version)
        return self.get(template_id, weights[-1][0])  # unreachable: shares sum to 100

    def _known(self, template_id: str) -> dict[int, PromptTemplate]:
        if template_id not in self._by_id:
            raise NotFound(
                f"no prompt template {template_id!r}; known: {', '.join(self.ids())}",
            )
        return self._by_id[template_id]


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The packaged registry, loaded once per process."""
    return Registry.load()


def parse_version(raw: Any, *, field: str = "version") -> int:
    """A version from a request: ``2``, ``"2"`` or ``"v2"``.

    Raises:
        InvalidInput: naming ``field``.
    """
    text = str(raw).strip().lower().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(
            f"{field} must be a positive version number like 2 (got {raw!r})", field=field
        )
    return int(text)
