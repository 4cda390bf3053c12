"""Typed settings, read from the environment in this one place (CONVENTIONS 4).

Every variable name is a constant here. Settings are built from an injected mapping so tests pass
a plain dict; an explicit argument to a constructor elsewhere always beats these settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.core.errors import ConfigError

ENV_PROJECT = "GOOGLE_CLOUD_PROJECT"
ENV_REGION = "FUNCTION_REGION"
ENV_ENVIRONMENT = "APP_ENV"
ENV_CLOUD_RUN_SERVICE = "K_SERVICE"  # set by the platform on Cloud Run and Cloud Functions
ENV_FIRESTORE_EMULATOR = "FIRESTORE_EMULATOR_HOST"
ENV_FIRESTORE_DATABASE = "FIRESTORE_DATABASE"
ENV_PUBSUB_EMULATOR = "PUBSUB_EMULATOR_HOST"
ENV_TASKS_EMULATOR = "CLOUD_TASKS_EMULATOR_HOST"
ENV_BIGQUERY_EMULATOR = "BIGQUERY_EMULATOR_HOST"
ENV_BIGQUERY_DATASET = "BIGQUERY_DATASET"
ENV_AUTH_ISSUER = "AUTH_ISSUER"
ENV_AUTH_AUDIENCE = "AUTH_AUDIENCE"
ENV_AUTH_JWKS_URL = "AUTH_JWKS_URL"
ENV_AUTH_PUBLIC_KEY_FILE = "AUTH_PUBLIC_KEY_FILE"
ENV_TASKS_SERVICE_ACCOUNT = "TASKS_SERVICE_ACCOUNT"
ENV_LOG_LEVEL = "LOG_LEVEL"
ENV_LLM_SIMULATOR_URL = "LLM_SIMULATOR_URL"
ENV_SCHEDULER_SERVICE_ACCOUNT = "SCHEDULER_SERVICE_ACCOUNT"
ENV_SERVICE_AUDIENCE = "SERVICE_AUDIENCE"
ENV_PUSH_SERVICE_ACCOUNT = "PUSH_SERVICE_ACCOUNT"
ENV_SERVICE_JWKS_URL = "SERVICE_JWKS_URL"
ENV_SERVICE_TOKEN_ISSUER = "SERVICE_TOKEN_ISSUER"  # noqa: S105 - a variable name
ENV_OPENAI_API_KEY = "OPENAI_API_KEY"
ENV_ANTHROPIC_API_KEY = "ANTHROPIC_API_KEY"
ENV_GEMINI_API_KEY = "GEMINI_API_KEY"
ENV_GEMINI_VERTEX = "GEMINI_USE_VERTEX"
ENV_LLM_BATCH_MODE = "LLM_BATCH_MODE"
ENV_WORKFLOW_RUNNER_URL = "WORKFLOW_RUNNER_URL"
ENV_WORKFLOW_LEASE_SECONDS = "WORKFLOW_LEASE_SECONDS"
ENV_EVENT_LOCK_SECONDS = "EVENT_LOCK_SECONDS"
ENV_STORE_OP_COUNTS = "STORE_OP_COUNTS"
ENV_STORE_WRITE_TRACE = "STORE_WRITE_TRACE"
ENV_CORS_ORIGINS = "CORS_ORIGINS"
ENV_CONSOLE_API_URL = "CONSOLE_API_URL"
ENV_CONSOLE_DEMO_TOKEN_URL = "CONSOLE_DEMO_TOKEN_URL"  # noqa: S105 - a variable name
ENV_CONSOLE_OIDC_ISSUER = "CONSOLE_OIDC_ISSUER"
ENV_CONSOLE_OIDC_CLIENT_ID = "CONSOLE_OIDC_CLIENT_ID"
ENV_EMBEDDING_MODEL = "EMBEDDING_MODEL"
ENV_EMBEDDING_DIMENSIONS = "EMBEDDING_DIMENSIONS"
ENV_KNOWLEDGE_QUERY_REWRITE = "KNOWLEDGE_QUERY_REWRITE"

# Topic and queue names the code uses. tests/infra proves each is declared in terraform/topology.json.
TOPIC_CRM_EVENTS = "crm-events"
TOPIC_CRM_EVENTS_DEAD_LETTER = "crm-events-dead-letter"
TOPIC_AI_EVENTS = "ai-events"
TOPIC_AI_EVENTS_DEAD_LETTER = "ai-events-dead-letter"
TOPIC_LLM_USAGE = "llm-usage"
QUEUE_WORKFLOWS_INTERACTIVE = "workflows-interactive"
QUEUE_WORKFLOWS_BATCH = "workflows-batch"

Environment = Literal["local", "test", "dev", "prod"]


class Settings(BaseModel):
    """Everything a unit needs from its environment, validated once at start-up."""

    model_config = ConfigDict(frozen=True)

    project_id: str
    region: str = "us-central1"
    environment: Environment
    firestore_emulator_host: str | None = None
    firestore_database: str = "(default)"
    pubsub_emulator_host: str | None = None
    tasks_emulator_host: str | None = None
    bigquery_emulator_host: str | None = None
    bigquery_dataset: str = "crm_ai"
    auth_issuer: str = "crm-dev"
    auth_audience: str = "crm-ai"
    auth_jwks_url: str | None = None
    auth_public_key_file: str | None = None
    tasks_service_account: str | None = None
    log_level: str = "INFO"
    llm_simulator_url: str | None = None
    scheduler_service_account: str | None = None
    # The unit's own URL: the audience of the OIDC tokens Pub/Sub, Cloud Tasks and Cloud Scheduler
    # attach (terraform/units.json gives every unit its own); never taken from the request.
    service_audience: str | None = None
    push_service_account: str | None = None  # the Pub/Sub push subscriptions' identity
    # Who signs those tokens: Google in the cloud; locally devstack/identity.py plays that part.
    service_jwks_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    service_token_issuer: str | None = None  # None: Google's (accounts.google.com)
    openai_api_key: str | None = None
    anthropic_api_key: str | None = None
    gemini_api_key: str | None = None
    gemini_use_vertex: bool = False
    # "provider": background LLM work goes through the providers' batch interfaces (half price,
    # answers within hours); "online": the collector runs it as ordinary calls.
    llm_batch_mode: Literal["provider", "online"] = "provider"
    workflow_runner_url: str | None = None  # the Cloud Tasks target that runs workflow slices
    # How long a runner holds a slice: past it, a retried task may take over (a killed runner).
    workflow_lease_s: float = 330.0
    # How long an event's idempotency lock holds: past it, a redelivery takes over from a worker
    # that died between applying the event and recording it done (Pub/Sub's ack deadline is 60 s).
    event_lock_s: float = 300.0
    # Browser origins that may call the API (the console, the CRM's web app): comma-separated.
    cors_origins: tuple[str, ...] = ()
    # The console (served by the real-time service): the API it calls, and how users sign in:
    # locally a demo-role token service (devstack), in the cloud the CRM's OIDC provider.
    console_api_url: str | None = None
    console_demo_token_url: str | None = None
    console_oidc_issuer: str | None = None
    console_oidc_client_id: str | None = None
    # "local": the ONNX model shipped in a package; otherwise a Google embedding model
    # (text-embedding-005, gemini-embedding-001) through google-genai, on Vertex AI with
    # GEMINI_USE_VERTEX, the Gemini API with GEMINI_API_KEY, else the simulator.
    embedding_model: str = "local"
    embedding_dimensions: int = 768  # requested from a Google model (the vector index's size)
    # Knowledge search and chat rewrite the question with an LLM before retrieving: "off";
    # "auto", when a real provider's key (or Vertex AI) is configured; "on", always (the
    # simulator too: benchmarks). Each rewrite is one LLM call, booked like any other.
    knowledge_query_rewrite: Literal["off", "auto", "on"] = "off"
    # Benchmarks only: count document-store operations and log them per request and per
    # workflow step (shared/core/store/counting.py).
    store_op_counts: bool = False
    # Benchmarks only: a folder where every document write is traced (shared/core/store/counting.py).
    store_write_trace: str | None = None

    @property
    def rewrites_queries(self) -> bool:
        """Whether knowledge retrieval rewrites questions with an LLM first
        (``knowledge_query_rewrite``)."""
        if self.knowledge_query_rewrite == "auto":
            return bool(
                self.openai_api_key
                or self.anthropic_api_key
                or self.gemini_api_key
                or self.gemini_use_vertex
            )
        return self.knowledge_query_rewrite == "on"

    @property
    def is_cloud(self) -> bool:
        """Whether this runs in a cloud environment (dev, prod), where local shortcuts are
        refused."""
        return self.environment in ("dev", "prod")


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    for origin in origins:
        scheme, _, rest = origin.partition("://")
        if scheme not in ("http", "https") or not rest or "/" in rest:
            raise ConfigError(
                f"{ENV_CORS_ORIGINS} lists origins like https://console.example.com "
                f"(scheme and host, no path); got {origin!r}"
            )
    return origins


def _seconds(env: Mapping[str, str], name: str, default: str) -> float:
    raw = env.get(name) or default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 86_400:
        raise ConfigError(f"{name} must be a number of seconds (0-86400); got {raw!r}")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (the process environment when omitted).

    Raises:
        ConfigError: a required variable is missing or a value is invalid; the message names it.
    """
    env = os.environ if environ is None else environ
    project = env.get(ENV_PROJECT)
    if not project:
        raise ConfigError(f"{ENV_PROJECT} is required (the Google Cloud project id)")
    # Required, never defaulted: a unit that lost its setting must not fall back to local mode
    # (issue 15, M3).
    environment = env.get(ENV_ENVIRONMENT)
    if not environment:
        raise ConfigError(f"{ENV_ENVIRONMENT} is required (one of local, test, dev, prod)")
    if environment not in ("local", "test", "dev", "prod"):
        raise ConfigError(
            f"{ENV_ENVIRONMENT} must be one of local, test, dev, prod; got {environment!r}"
        )
    values: dict[str, str | None] = {
        "project_id": project,
        "region": env.get(ENV_REGION) or "us-central1",
        "environment": environment,
        "firestore_emulator_host": env.get(ENV_FIRESTORE_EMULATOR) or None,
        "firestore_database": env.get(ENV_FIRESTORE_DATABASE) or "(default)",
        "pubsub_emulator_host": env.get(ENV_PUBSUB_EMULATOR) or None,
        "tasks_emulator_host": env.get(ENV_TASKS_EMULATOR) or None,
        "bigquery_emulator_host": env.get(ENV_BIGQUERY_EMULATOR) or None,
        "bigquery_dataset": env.get(ENV_BIGQUERY_DATASET) or "crm_ai",
        "auth_issuer": env.get(ENV_AUTH_ISSUER) or "crm-dev",
        "auth_audience": env.get(ENV_AUTH_AUDIENCE) or "crm-ai",
        "auth_jwks_url": env.get(ENV_AUTH_JWKS_URL) or None,
        "auth_public_key_file": env.get(ENV_AUTH_PUBLIC_KEY_FILE) or None,
        "tasks_service_account": env.get(ENV_TASKS_SERVICE_ACCOUNT) or None,
        "log_level": env.get(ENV_LOG_LEVEL) or "INFO",
        "llm_simulator_url": env.get(ENV_LLM_SIMULATOR_URL) or None,
        "scheduler_service_account": env.get(ENV_SCHEDULER_SERVICE_ACCOUNT) or None,
        "service_audience": env.get(ENV_SERVICE_AUDIENCE) or None,
        "push_service_account": env.get(ENV_PUSH_SERVICE_ACCOUNT) or None,
        "console_api_url": env.get(ENV_CONSOLE_API_URL) or None,
        "console_demo_token_url": env.get(ENV_CONSOLE_DEMO_TOKEN_URL) or None,
        "console_oidc_issuer": env.get(ENV_CONSOLE_OIDC_ISSUER) or None,
        "console_oidc_client_id": env.get(ENV_CONSOLE_OIDC_CLIENT_ID) or None,
        "service_token_issuer": env.get(ENV_SERVICE_TOKEN_ISSUER) or None,
        "openai_api_key": env.get(ENV_OPENAI_API_KEY) or None,
        "anthropic_api_key": env.get(ENV_ANTHROPIC_API_KEY) or None,
        "gemini_api_key": env.get(ENV_GEMINI_API_KEY) or None,
        "llm_batch_mode": env.get(ENV_LLM_BATCH_MODE) or "provider",
        "workflow_runner_url": env.get(ENV_WORKFLOW_RUNNER_URL) or None,
        "embedding_model": env.get(ENV_EMBEDDING_MODEL) or "local",
        "knowledge_query_rewrite": env.get(ENV_KNOWLEDGE_QUERY_REWRITE) or "off",
    }
    lease_s = _seconds(env, ENV_WORKFLOW_LEASE_SECONDS, "330")
    event_lock_s = _seconds(env, ENV_EVENT_LOCK_SECONDS, "300")
    dims = env.get(ENV_EMBEDDING_DIMENSIONS) or "768"
    if not dims.isdigit() or not 1 <= int(dims) <= 3072:
        raise ConfigError(f"{ENV_EMBEDDING_DIMENSIONS} must be an integer 1-3072; got {dims!r}")
    if values["knowledge_query_rewrite"] not in ("off", "auto", "on"):
        raise ConfigError(
            f"{ENV_KNOWLEDGE_QUERY_REWRITE} must be off, auto or on; "
            f"got {values['knowledge_query_rewrite']!r}"
        )
    if values["llm_batch_mode"] not in ("provider", "online"):
        raise ConfigError(
            f"{ENV_LLM_BATCH_MODE} must be provider or online; got {values['llm_batch_mode']!r}"
        )
    settings = Settings.model_validate(
        {
            **values,
            "gemini_use_vertex": (env.get(ENV_GEMINI_VERTEX) or "").lower() in ("1", "true", "yes"),
            "store_op_counts": (env.get(ENV_STORE_OP_COUNTS) or "").lower() in ("1", "true", "yes"),
            "store_write_trace": env.get(ENV_STORE_WRITE_TRACE) or None,
            "workflow_lease_s": lease_s,
            "event_lock_s": event_lock_s,
            "cors_origins": _origins(env.get(ENV_CORS_ORIGINS) or ""),
            "embedding_dimensions": int(dims),
            **(
                {"service_jwks_url": env[ENV_SERVICE_JWKS_URL]}
                if env.get(ENV_SERVICE_JWKS_URL)
                else {}
            ),
        }
    )
    if env.get(ENV_CLOUD_RUN_SERVICE) and not settings.is_cloud:
        # Cloud Run (and Cloud Functions, which run on it) sets K_SERVICE: a deployed unit never
        # runs in local mode, whose service-call checks lean on emulators (issue 15, M3).
        raise ConfigError(
            f"{ENV_ENVIRONMENT}={environment} in a deployed unit ({ENV_CLOUD_RUN_SERVICE} is "
            f"set): set {ENV_ENVIRONMENT} to dev or prod"
        )
    if settings.is_cloud and not settings.auth_jwks_url:
        raise ConfigError(f"{ENV_AUTH_JWKS_URL} is required when {ENV_ENVIRONMENT}={environment}")
    if not settings.is_cloud and not (settings.auth_jwks_url or settings.auth_public_key_file):
        raise ConfigError(f"{ENV_AUTH_PUBLIC_KEY_FILE} or {ENV_AUTH_JWKS_URL} is required")
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from ``os.environ`` on first use."""
    return load_settings()
