# Topics and subscriptions exactly as terraform/topology.json declares them (the local stack
# reads the same file). Push subscriptions call our functions with an OIDC token of the push
# service account; a message that keeps failing goes to its dead-letter topic.

locals {
  topics        = { for t in var.topology.topics : t.name => t }
  subscriptions = { for s in var.topology.subscriptions : s.name => s }
  dead_letter_topics = toset([
    for s in var.topology.subscriptions : s.dead_letter_topic if try(s.dead_letter_topic, null) != null
  ])
  pubsub_agent = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "this" {
  #checkov:skip=CKV_GCP_83:CMEK is set per environment through kms_key_name (prod sets it); dev uses Google-managed keys.
  for_each                   = local.topics
  project                    = var.project_id
  name                       = each.key
  message_retention_duration = each.value.message_retention
  kms_key_name               = var.kms_key_name
  labels                     = var.labels
}

resource "google_pubsub_subscription" "this" {
  for_each                     = local.subscriptions
  project                      = var.project_id
  name                         = each.key
  topic                        = google_pubsub_topic.this[each.value.topic].id
  ack_deadline_seconds         = try(each.value.ack_deadline_seconds, 60)
  enable_message_ordering      = try(each.value.enable_message_ordering, false)
  filter                       = try(each.value.filter, null)
  message_retention_duration   = "604800s"
  retain_acked_messages        = false
  enable_exactly_once_delivery = false
  labels                       = var.labels

  dynamic "push_config" {
    for_each = try(each.value.push_function, null) == null ? [] : [each.value.push_function]
    content {
      push_endpoint = "${var.push_endpoints[push_config.value]}${try(each.value.push_path, "")}"
      oidc_token {
        service_account_email = var.push_service_account_email
        audience              = var.push_endpoints[push_config.value]
      }
    }
  }

  dynamic "bigquery_config" {
    for_each = try(each.value.bigquery_table, null) == null ? [] : [each.value.bigquery_table]
    content {
      table               = "${var.project_id}.${var.bigquery_dataset}.${bigquery_config.value}"
      use_table_schema    = true
      drop_unknown_fields = true
    }
  }

  dynamic "dead_letter_policy" {
    for_each = try(each.value.dead_letter_topic, null) == null ? [] : [each.value.dead_letter_topic]
    content {
      dead_letter_topic     = google_pubsub_topic.this[dead_letter_policy.value].id
      max_delivery_attempts = each.value.max_delivery_attempts
    }
  }

  dynamic "retry_policy" {
    for_each = try(each.value.min_backoff_seconds, null) == null ? [] : [1]
    content {
      minimum_backoff = "${each.value.min_backoff_seconds}s"
      maximum_backoff = "${each.value.max_backoff_seconds}s"
    }
  }

  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub's own agent forwards undeliverable messages: it must publish to the dead-letter
# topics and acknowledge on the source subscriptions.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.dead_letter_topics
  project  = var.project_id
  topic    = google_pubsub_topic.this[each.value].name
  role     = "roles/pubsub.publisher"
  member   = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each     = { for k, s in local.subscriptions : k => s if try(s.dead_letter_topic, null) != null }
  project      = var.project_id
  subscription = google_pubsub_subscription.this[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Publishers: each unit that publishes gets roles/pubsub.publisher on the topics it uses only.
resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = { for pair in var.publishers : "${pair.topic}/${pair.member}" => pair }
  project  = var.project_id
  topic    = google_pubsub_topic.this[each.value.topic].name
  role     = "roles/pubsub.publisher"
  member   = each.value.member
}
