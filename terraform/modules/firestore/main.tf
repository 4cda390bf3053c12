# The Firestore (native) database, the composite indexes our queries need, and TTL policies
# that delete expired records (idempotency results, caches) without a cleanup job.

resource "google_firestore_database" "this" {
  #checkov:skip=CKV_GCP_138:Point-in-time recovery is enabled through var.point_in_time_recovery (prod sets it).
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.location
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "OPTIMISTIC"
  point_in_time_recovery_enablement = var.point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = var.delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
}

# GET /api/v1/ai/crm/customers/{id}/interactions: customer_id == X order by updated_at desc.
resource "google_firestore_index" "interactions_by_customer" {
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = "interactions"

  fields {
    field_path = "customer_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "updated_at"
    order      = "DESCENDING"
  }
}

# Prompt version reports: usage records and review outcomes of one template since a date.
resource "google_firestore_index" "by_template_since" {
  for_each   = toset(["llm_usage", "prompt_outcomes"])
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value

  fields {
    field_path = "template_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "at"
    order      = "ASCENDING"
  }
}

# Workflow checkpointer: the latest checkpoint of a thread and namespace.
resource "google_firestore_index" "latest_checkpoint" {
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = "checkpoints"

  fields {
    field_path = "thread_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "checkpoint_ns"
    order      = "ASCENDING"
  }
  fields {
    field_path = "checkpoint_id"
    order      = "DESCENDING"
  }
}

# Batch LLM collector: a tenant's open batch jobs.
resource "google_firestore_index" "open_llm_batches" {
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = "llm_batches"

  fields {
    field_path = "state"
    order      = "ASCENDING"
  }
  fields {
    field_path = "created_at"
    order      = "ASCENDING"
  }
}

# Knowledge base: nearest chunks embedded by the current model.
resource "google_firestore_index" "knowledge_vector" {
  for_each   = toset([for d in var.vector_dimensions : tostring(d)])
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = "knowledge_chunks"

  fields {
    field_path = "model_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "embedding"
    vector_config {
      dimension = tonumber(each.value)
      flat {}
    }
  }
}

# Customer history: nearest chunks of one customer, and keyword candidates of one customer.
resource "google_firestore_index" "history_vector" {
  for_each   = toset([for d in var.vector_dimensions : tostring(d)])
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = "history_chunks"

  fields {
    field_path = "customer_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "model_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "embedding"
    vector_config {
      dimension = tonumber(each.value)
      flat {}
    }
  }
}

# Keyword search asks for one entry of a chunk's `kw` map by equality (`kw.<word> == true`,
# with `customer_id ==` for history), served by single-field indexes and index merging, so no
# composite index is needed; the map keeps ascending entries only (no descending, no
# array-contains) to halve the index writes per chunk.
resource "google_firestore_field" "keyword_map" {
  for_each   = toset(["knowledge_chunks", "history_chunks"])
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value
  field      = "kw"

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
  }
}

# Semantic LLM cache: nearest question among entries with the same fingerprint and embedder.
resource "google_firestore_index" "semantic_cache_vector" {
  for_each   = toset([for d in var.vector_dimensions : tostring(d)])
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = "llm_semantic_cache"

  fields {
    field_path = "fingerprint"
    order      = "ASCENDING"
  }
  fields {
    field_path = "model_id"
    order      = "ASCENDING"
  }
  fields {
    field_path = "embedding"
    vector_config {
      dimension = tonumber(each.value)
      flat {}
    }
  }
}

resource "google_firestore_field" "ttl" {
  for_each   = toset(var.ttl_collections)
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value
  field      = "expires_at"

  ttl_config {}
}
