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
