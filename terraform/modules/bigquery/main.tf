# The analytics dataset: LLM usage records arrive through a Pub/Sub BigQuery subscription
# (topic llm-usage), so no code runs to load them. Scoring's batch tables will join it here.

resource "google_bigquery_dataset" "this" {
  #checkov:skip=CKV_GCP_81:CMEK is set per environment through kms_key_name (prod sets it).
  project                    = var.project_id
  dataset_id                 = var.dataset_id
  location                   = var.location
  delete_contents_on_destroy = false
  labels                     = var.labels

  dynamic "default_encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }
}

resource "google_bigquery_table" "llm_usage" {
  #checkov:skip=CKV_GCP_80:Encrypted with the dataset's default key (CMEK in prod).
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "llm_usage"
  deletion_protection = true
  labels              = var.labels

  time_partitioning {
    type  = "DAY"
    field = "at"
  }
  clustering = ["tenant_id", "feature", "model"]

  schema = jsonencode([
    { name = "call_id", type = "STRING", mode = "REQUIRED" },
    { name = "tenant_id", type = "STRING", mode = "REQUIRED" },
    { name = "feature", type = "STRING", mode = "REQUIRED" },
    { name = "crm_object", type = "STRING", mode = "NULLABLE" },
    { name = "template_id", type = "STRING", mode = "NULLABLE" },
    { name = "template_version", type = "STRING", mode = "NULLABLE" },
    { name = "provider", type = "STRING", mode = "REQUIRED" },
    { name = "model", type = "STRING", mode = "REQUIRED" },
    { name = "input_tokens", type = "INT64", mode = "REQUIRED" },
    { name = "output_tokens", type = "INT64", mode = "REQUIRED" },
    { name = "cached_input_tokens", type = "INT64", mode = "REQUIRED" },
    { name = "cost_usd", type = "FLOAT64", mode = "REQUIRED" },
    { name = "latency_ms", type = "FLOAT64", mode = "REQUIRED" },
    { name = "cache_hit", type = "BOOL", mode = "REQUIRED" },
    { name = "outcome", type = "STRING", mode = "REQUIRED" },
    { name = "attempts", type = "INT64", mode = "REQUIRED" },
    { name = "at", type = "TIMESTAMP", mode = "REQUIRED" },
  ])
}

# Pub/Sub's agent writes the subscription's rows.
resource "google_bigquery_dataset_iam_member" "pubsub_writer" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.this.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# Batch scoring tables, declared once in terraform/bigquery_tables.json (the local stack creates
# the same on the BigQuery emulator).
resource "google_bigquery_table" "batch" {
  #checkov:skip=CKV_GCP_80:Encrypted with the dataset's default key (CMEK in prod).
  for_each            = var.tables
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = each.key
  description         = each.value.description
  deletion_protection = true
  labels              = var.labels

  time_partitioning {
    type  = "DAY"
    field = each.value.partition_field
  }
  clustering = ["tenant_id"]
  schema     = jsonencode(each.value.schema)
}

# --- analytics (issue 17): workflow outcomes from the logs, and two views ----------------------

# Every run's outcomes (the runner's workflow_outcome lines) go to this dataset by a log sink.
# Cloud Logging names the table after the log (Cloud Run's stdout); it is declared here with the
# fields the view reads, so the view can be created before the first outcome, and Logging adds
# the entry's other fields as columns.
resource "google_bigquery_table" "workflow_outcome_log" {
  #checkov:skip=CKV_GCP_80:Encrypted with the dataset's default key (CMEK in prod).
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = "run_googleapis_com_stdout"
  deletion_protection = true
  labels              = var.labels
  time_partitioning {
    type  = "DAY"
    field = "timestamp"
  }
  schema = jsonencode([
    { name = "timestamp", type = "TIMESTAMP", mode = "NULLABLE" },
    {
      name = "jsonPayload", type = "RECORD", mode = "NULLABLE", fields = [
        { name = "metric", type = "STRING", mode = "NULLABLE" },
        { name = "run_id", type = "STRING", mode = "NULLABLE" },
        { name = "workflow_type", type = "STRING", mode = "NULLABLE" },
        { name = "outcome", type = "STRING", mode = "NULLABLE" },
        { name = "in_time", type = "STRING", mode = "NULLABLE" },
        { name = "mode", type = "STRING", mode = "NULLABLE" },
        { name = "duration_ms", type = "FLOAT64", mode = "NULLABLE" },
      ]
    },
  ])
}

resource "google_logging_project_sink" "workflow_outcomes" {
  project                = var.project_id
  name                   = "workflow-outcomes-to-bigquery"
  destination            = "bigquery.googleapis.com/projects/${var.project_id}/datasets/${google_bigquery_dataset.this.dataset_id}"
  filter                 = "jsonPayload.metric=\"workflow_outcome\""
  unique_writer_identity = true
  bigquery_options {
    use_partitioned_tables = true
  }
}

resource "google_bigquery_dataset_iam_member" "log_sink_writer" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.this.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = google_logging_project_sink.workflow_outcomes.writer_identity
}

# The views' SQL lives in terraform/analytics/*.sql; tests/integration/test_observability.py runs
# the same SQL on the BigQuery emulator over rows made from the stack's real log lines.
locals {
  views = {
    llm_cost_daily           = google_bigquery_table.llm_usage.table_id
    workflow_outcomes_weekly = google_bigquery_table.workflow_outcome_log.table_id
  }
}

resource "google_bigquery_table" "views" {
  #checkov:skip=CKV_GCP_80:A view holds no data of its own.
  #checkov:skip=CKV_GCP_121:A view holds no data; it is replaced when its SQL changes.
  for_each            = local.views
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = each.key
  deletion_protection = false
  labels              = var.labels
  view {
    query          = templatefile("${path.module}/../../analytics/${each.key}.sql", { source = "${var.project_id}.${google_bigquery_dataset.this.dataset_id}.${each.value}" })
    use_legacy_sql = false
  }
}
