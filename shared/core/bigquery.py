"""The BigQuery client every unit builds the same way: the emulator locally
(``BIGQUERY_EMULATOR_HOST``), the function's identity in the cloud. Imported lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.cloud import bigquery

    from shared.core.config import Settings


def bigquery_client(settings: Settings) -> bigquery.Client:
    """A BigQuery client for the project (the emulator locally); the SDK is imported only here, when
    a job needs it."""
    from google.cloud import bigquery

    if settings.bigquery_emulator_host:
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(
            project=settings.project_id,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=f"http://{settings.bigquery_emulator_host}"),
        )
    return bigquery.Client(project=settings.project_id)
