"""Process-wide dependencies, built lazily on first use (never at import time, CONVENTIONS 5).

Entry points ask for what they need; each getter builds its client once per instance, so a warm
function reuses connections. Tests call :func:`reset` after changing the environment.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from shared.core.config import get_settings
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


@lru_cache(maxsize=1)
def document_store() -> DocumentStore:
    from shared.core.store.firestore import FirestoreStore

    settings = get_settings()
    store = FirestoreStore.from_settings(settings)
    if settings.store_op_counts or settings.store_write_trace:
        from shared.core.store.counting import CountingStore

        # Benchmarks: operations counted, writes traced (issue 19).
        return CountingStore(
            store, measure=settings.store_op_counts, trace_dir=settings.store_write_trace
        )
    return store


@lru_cache(maxsize=1)
def publisher() -> Publisher:
    from shared.core.messaging.pubsub import PubSubPublisher

    return PubSubPublisher.from_settings(get_settings())


@lru_cache(maxsize=1)
def task_queue() -> TaskQueue:
    from shared.core.messaging.tasks import CloudTasksQueue

    return CloudTasksQueue(get_settings())


@lru_cache(maxsize=1)
def token_verifier() -> TokenVerifier:
    from shared.core.auth.tokens import TokenVerifier

    return TokenVerifier.from_settings(get_settings())


@lru_cache(maxsize=1)
def crm_ingestor() -> CrmIngestor:
    from datetime import timedelta

    from shared.capabilities.crm.ingest import CrmIngestor

    lock = timedelta(seconds=get_settings().event_lock_s)
    return CrmIngestor(document_store(), publisher(), lock_ttl=lock)


@lru_cache(maxsize=1)
def llm_ledger() -> Ledger:
    from shared.ai.llm.ledger import Ledger

    return Ledger(document_store(), publisher(), write_behind=True)


def flush_writes() -> None:
    """Wait for this process's writes behind (LLM usage records) before a unit of work answers.

    Raises:
        the first failed write (transient: the platform retries the unit of work).
    """
    if llm_ledger.cache_info().currsize:
        llm_ledger().flush()


@lru_cache(maxsize=1)
def llm_policies() -> PolicyStore:
    from shared.ai.llm.policy import PolicyStore

    return PolicyStore(document_store())


@lru_cache(maxsize=1)
def llm_client() -> LLMClient:
    from shared.ai.llm.cache import ResponseCache
    from shared.ai.llm.client import LLMClient
    from shared.ai.llm.factory import build_router
    from shared.ai.llm.semantic_cache import SemanticCache

    return LLMClient(
        build_router(get_settings()),
        ledger=llm_ledger(),
        policies=llm_policies(),
        cache=ResponseCache(document_store()),
        semantic_cache=SemanticCache(document_store(), embedder()),
    )


@lru_cache(maxsize=1)
def batch_service() -> BatchService:
    """Background LLM work on the process's client, through the providers' batch interfaces."""
    from shared.ai.llm.batch.gemini import BigQueryTables
    from shared.ai.llm.batch.providers import batch_providers
    from shared.ai.llm.batch.service import BatchService
    from shared.core.bigquery import bigquery_client

    settings = get_settings()
    client = llm_client()
    tables = BigQueryTables(
        lambda: bigquery_client(settings), settings.project_id, settings.bigquery_dataset
    )
    return BatchService(
        client, batch_providers(client.router.providers, tables), mode=settings.llm_batch_mode
    )


@lru_cache(maxsize=1)
def embedder() -> Embedder:
    """The configured embedding model (``EMBEDDING_MODEL``): the offline ONNX model by default,
    or a Google model on Vertex AI, the Gemini API or the simulator. Nothing loads here."""
    settings = get_settings()
    if settings.embedding_model == "local":
        from shared.ai.embeddings.local import LocalOnnxEmbedder

        return LocalOnnxEmbedder()
    from shared.ai.embeddings.google import GoogleEmbedder
    from shared.ai.llm.factory import gemini_endpoint

    return GoogleEmbedder(
        settings.embedding_model,
        settings.embedding_dimensions,
        gemini_endpoint(settings),
        vertex_project=settings.project_id,
        vertex_location=settings.region,
    )


@lru_cache(maxsize=1)
def init_logging() -> None:
    configure_logging(get_settings().log_level)


def reset() -> None:
    """Forget every built dependency and the settings (tests change the environment)."""
    if llm_client.cache_info().currsize:
        llm_client().router.close()
    for getter in (
        document_store,
        publisher,
        task_queue,
        token_verifier,
        crm_ingestor,
        init_logging,
        llm_ledger,
        llm_policies,
        llm_client,
        batch_service,
        embedder,
    ):
        getter.cache_clear()
    get_settings.cache_clear()
