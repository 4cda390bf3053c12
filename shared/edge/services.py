"""The process's clients, built once at the edge and handed down (never fetched from below).

:func:`current` gives this process's :class:`Services`; entry points pass it to HTTP handlers on
their request context (``ctx.services``) and to event and job handlers as arguments. Nothing
below ``shared/edge`` imports this module (the import-linter contract in pyproject.toml).

Each client is built on first use, not at import (CONVENTIONS 5): a function that never calls an
LLM never builds the router, and a warm instance reuses its connections. Tests give their own
clients to :class:`Services` (in-memory fakes), or call :func:`reset` after changing the
environment so the next :func:`current` reads it again.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from shared.core.config import Settings, get_settings
from shared.core.log import configure_logging

if TYPE_CHECKING:
    from shared.ai.embeddings.base import Embedder
    from shared.ai.llm.batch.service import BatchService
    from shared.ai.llm.client import LLMClient
    from shared.ai.llm.ledger import Ledger
    from shared.ai.llm.policy import PolicyStore
    from shared.capabilities.crm.ingest import CrmIngestor
    from shared.core.auth.tokens import TokenVerifier
    from shared.core.messaging.pubsub import Publisher
    from shared.core.messaging.tasks import TaskQueue
    from shared.core.store.base import DocumentStore


class Services:
    """Every client a unit of work may need, each built lazily from ``settings`` unless given.

    Given clients win: ``Services(settings, store=MemoryStore(), publisher=MemoryPublisher())``
    runs handlers on fakes; what is not given is built from ``settings`` on first use.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: DocumentStore | None = None,
        publisher: Publisher | None = None,
        tasks: TaskQueue | None = None,
        verifier: TokenVerifier | None = None,
        embedder: Embedder | None = None,
        llm: LLMClient | None = None,
    ) -> None:
        self.settings = settings
        given = {
            "store": store,
            "publisher": publisher,
            "tasks": tasks,
            "verifier": verifier,
            "embedder": embedder,
            "llm": llm,
        }
        # cached_property reads the instance dict first: a given client is never rebuilt.
        self.__dict__.update({name: value for name, value in given.items() if value is not None})

    @cached_property
    def store(self) -> DocumentStore:
        """Firestore (the emulator locally); counted and traced when a benchmark asks."""
        from shared.core.store.firestore import FirestoreStore

        store = FirestoreStore.from_settings(self.settings)
        if self.settings.store_op_counts or self.settings.store_write_trace:
            from shared.core.store.counting import CountingStore

            # Benchmarks: operations counted, writes traced (issue 19).
            return CountingStore(
                store,
                measure=self.settings.store_op_counts,
                trace_dir=self.settings.store_write_trace,
            )
        return store

    @cached_property
    def publisher(self) -> Publisher:
        """Pub/Sub (the emulator locally)."""
        from shared.core.messaging.pubsub import PubSubPublisher

        return PubSubPublisher.from_settings(self.settings)

    @cached_property
    def tasks(self) -> TaskQueue:
        """Cloud Tasks (the emulator locally)."""
        from shared.core.messaging.tasks import CloudTasksQueue

        return CloudTasksQueue(self.settings)

    @cached_property
    def verifier(self) -> TokenVerifier:
        """Checks callers' JWTs and service OIDC tokens against the configured issuers."""
        from shared.core.auth.tokens import TokenVerifier

        return TokenVerifier.from_settings(self.settings)

    @cached_property
    def crm_ingestor(self) -> CrmIngestor:
        """Applies ``crm-events`` once each (the event lock's length is configured)."""
        from datetime import timedelta

        from shared.capabilities.crm.ingest import CrmIngestor

        lock = timedelta(seconds=self.settings.event_lock_s)
        return CrmIngestor(self.store, self.publisher, lock_ttl=lock)

    @cached_property
    def ledger(self) -> Ledger:
        """LLM budgets and usage records; usage is written behind (see :meth:`flush_writes`)."""
        from shared.ai.llm.ledger import Ledger

        return Ledger(self.store, self.publisher, write_behind=True)

    @cached_property
    def policies(self) -> PolicyStore:
        """Each tenant's LLM policy (budgets, guards, tiers)."""
        from shared.ai.llm.policy import PolicyStore

        return PolicyStore(self.store)

    @cached_property
    def llm(self) -> LLMClient:
        """The one LLM client: the configured providers, this process's ledger, policies and
        caches, and the prompts layer's summary template for overflowing conversations."""
        from shared.ai.llm.cache import ResponseCache
        from shared.ai.llm.client import LLMClient
        from shared.ai.llm.factory import build_router
        from shared.ai.llm.semantic_cache import SemanticCache
        from shared.ai.prompts.render import conversation_summary

        return LLMClient(
            build_router(self.settings),
            ledger=self.ledger,
            policies=self.policies,
            cache=ResponseCache(self.store),
            semantic_cache=SemanticCache(self.store, self.embedder),
            summary_prompt=conversation_summary,
        )

    @cached_property
    def batches(self) -> BatchService:
        """Background LLM work on :attr:`llm`, through the providers' batch interfaces."""
        from shared.ai.llm.batch.gemini import BigQueryTables
        from shared.ai.llm.batch.providers import batch_providers
        from shared.ai.llm.batch.service import BatchService
        from shared.core.bigquery import bigquery_client

        settings = self.settings
        client = self.llm
        tables = BigQueryTables(
            lambda: bigquery_client(settings), settings.project_id, settings.bigquery_dataset
        )
        return BatchService(
            client, batch_providers(client.router.providers, tables), mode=settings.llm_batch_mode
        )

    @cached_property
    def embedder(self) -> Embedder:
        """The configured embedding model (``EMBEDDING_MODEL``): the offline ONNX model by
        default, or a Google model on Vertex AI, the Gemini API or the simulator. Nothing loads
        here."""
        settings = self.settings
        if settings.embedding_model == "local":
            from shared.ai.embeddings.local import LocalOnnxEmbedder

            return LocalOnnxEmbedder()
        from shared.ai.embeddings.google import GoogleEmbedder
        from shared.ai.llm.factory import gemini_endpoint
        from shared.ai.llm.providers.gemini_provider import genai_client

        endpoint = gemini_endpoint(settings)
        return GoogleEmbedder(
            settings.embedding_model,
            settings.embedding_dimensions,
            lambda: genai_client(endpoint, settings.project_id, settings.region),
        )

    def flush_writes(self) -> None:
        """Wait for this process's writes behind (LLM usage records) before a unit of work
        answers.

        Raises:
            the first failed write (transient: the platform retries the unit of work).
        """
        if "ledger" in self.__dict__:
            self.ledger.flush()

    def close(self) -> None:
        """Close the LLM providers' connections, if they were opened."""
        if "llm" in self.__dict__:
            self.llm.router.close()


@lru_cache(maxsize=1)
def current() -> Services:
    """This process's services, from the environment's settings (built once per instance)."""
    return Services(get_settings())


@lru_cache(maxsize=1)
def init_logging() -> None:
    """Configure logging once per process, at the configured level."""
    configure_logging(get_settings().log_level)


def reset() -> None:
    """Forget the process's services and settings (tests change the environment)."""
    if current.cache_info().currsize:
        current().close()
    current.cache_clear()
    init_logging.cache_clear()
    get_settings.cache_clear()
