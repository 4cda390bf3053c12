# Observability (issue 17): log-based metrics from terraform/metrics.json, the alert policies of
# the product's five rules (plus dead letters), dashboards and SLOs with burn-rate alerts.
#
# Why log-based metrics: every unit already writes one structured JSON line per event worth
# counting (an LLM call, a workflow step, a socket, a security event), Cloud Logging turns them
# into metrics with no client library, no extra network call on the request path and no cold
# start cost, and the same lines serve the local stack and its tests. Queue depth, backlog and
# oldest unacked age are Google's own metrics (Cloud Tasks, Pub/Sub): they are read as they are.

locals {
  metrics = { for m in jsondecode(file("${path.module}/../../metrics.json")).log_metrics : m.name => m }
  # A metric's filter: its `match` fields equal (strings quoted, booleans bare), its `present`
  # fields exist.
  filters = {
    for name, m in local.metrics : name => join(" AND ", concat(
      [for k, v in try(m.match, {}) : can(tobool(v)) ? "jsonPayload.${k}=${tostring(v)}" : "jsonPayload.${k}=\"${v}\""],
      [for f in try(m.present, []) : "jsonPayload.${f}:*"],
    ))
  }
  user = "logging.googleapis.com/user"
}

resource "google_logging_metric" "log" {
  for_each        = local.metrics
  project         = var.project_id
  name            = each.key
  description     = each.value.description
  filter          = local.filters[each.key]
  value_extractor = can(each.value.value) ? "EXTRACT(jsonPayload.${each.value.value})" : null
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = can(each.value.value) ? "DISTRIBUTION" : "INT64"
    unit        = try(each.value.unit, "1")
    dynamic "labels" {
      for_each = each.value.labels
      content {
        key        = labels.key
        value_type = "STRING"
      }
    }
  }
  label_extractors = { for label, field in each.value.labels : label => "EXTRACT(jsonPayload.${field})" }
  dynamic "bucket_options" {
    for_each = can(each.value.value) ? [each.value.buckets] : []
    content {
      exponential_buckets {
        num_finite_buckets = bucket_options.value.count
        growth_factor      = bucket_options.value.growth
        scale              = bucket_options.value.scale
      }
    }
  }
}

# The metrics declared by hand before metrics.json keep their history.
moved {
  from = google_logging_metric.security_events
  to   = google_logging_metric.log["security_events"]
}
moved {
  from = google_logging_metric.llm_calls
  to   = google_logging_metric.log["llm_calls"]
}
moved {
  from = google_logging_metric.llm_latency
  to   = google_logging_metric.log["llm_latency_ms"]
}
moved {
  from = google_logging_metric.llm_cost
  to   = google_logging_metric.log["llm_cost_usd"]
}

# --- the five rules ---------------------------------------------------------------------------

# 1. High LLM costs against budget thresholds: a tenant's spend crossed one of its own budget's
#    thresholds (the ledger logs it once per threshold and month), or the whole project spends
#    more than var.llm_cost_alert_usd_per_hour.
resource "google_monitoring_alert_policy" "llm_cost" {
  project      = var.project_id
  display_name = "LLM cost: a budget threshold crossed, or spend above the hourly ceiling"
  combiner     = "OR"
  conditions {
    display_name = "a tenant crossed a budget threshold"
    condition_threshold {
      filter          = "metric.type=\"${local.user}/${google_logging_metric.log["llm_budget_thresholds"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
  conditions {
    display_name = "project LLM spend per hour"
    condition_threshold {
      filter          = "metric.type=\"${local.user}/${google_logging_metric.log["llm_cost_usd"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.llm_cost_alert_usd_per_hour
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
  documentation {
    content = "See docs/observability.md's alert table (llm_cost): find the tenant and feature on the LLM dashboard; raise or enforce the tenant's budget (PUT /api/v1/ai/usage/policy)."
  }
  notification_channels = var.notification_channels
}

# 2. Model performance degradation: score drift (PSI), realised AUC below the floor, insight
#    grounding below the floor.
resource "google_monitoring_alert_policy" "model_degradation" {
  project      = var.project_id
  display_name = "Model performance degradation (scoring drift, realised AUC, grounding)"
  combiner     = "OR"
  conditions {
    display_name = "score PSI above threshold"
    condition_threshold {
      filter          = "metric.type=\"${local.user}/${google_logging_metric.log["scoring_psi"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.scoring_psi_alert
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["metric.label.tenant_id"]
      }
    }
  }
  conditions {
    display_name = "realised AUC below floor"
    condition_threshold {
      filter          = "metric.type=\"${local.user}/${google_logging_metric.log["scoring_auc"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_LT"
      threshold_value = var.scoring_auc_floor
      duration        = "0s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_PERCENTILE_50"
        cross_series_reducer = "REDUCE_MIN"
        group_by_fields      = ["metric.label.tenant_id"]
      }
    }
  }
  conditions {
    display_name = "insight grounding below floor"
    condition_threshold {
      filter          = "metric.type=\"${local.user}/${google_logging_metric.log["insight_grounding"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_LT"
      threshold_value = var.grounding_floor
      duration        = "3600s"
      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_PERCENTILE_50"
        cross_series_reducer = "REDUCE_MEAN"
        group_by_fields      = ["metric.label.kind"]
      }
    }
  }
  documentation {
    content = "See docs/observability.md's alert table (model_degradation): open the scoring dashboard; GET /api/v1/ai/scoring/drift names the drifting fields; retrain (scoring_jobs {\"job\": \"train\"}) or roll back the model version."
  }
  notification_channels = var.notification_channels
}

# 3. Provider failures and outages: failed attempts per minute, or a circuit opening.
resource "google_monitoring_alert_policy" "provider_failures" {
  project      = var.project_id
  display_name = "LLM provider failures and outages"
  combiner     = "OR"
  conditions {
    display_name = "failed provider attempts per minute"
    condition_threshold {
      filter          = "metric.type=\"${local.user}/${google_logging_metric.log["llm_attempt_failures"].name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.provider_failures_per_minute
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.provider"]
      }
    }
  }
  conditions {
    display_name = "a circuit breaker opened"
    condition_threshold {
      filter          = "metric.type=\"${local.user}/${google_logging_metric.log["llm_circuit_changes"].name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.state=\"open\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
  documentation {
    content = "See docs/observability.md's alert table (provider_failures): the LLM dashboard shows which provider and failure kind; failover keeps serving from the others; check the provider's status page and the key's quota."
  }
  notification_channels = var.notification_channels
}

# 4. Queue depth past capacity: Cloud Tasks depth, Pub/Sub backlog and oldest unacked age.
resource "google_monitoring_alert_policy" "queue_depth" {
  project      = var.project_id
  display_name = "Queue depth past capacity (Cloud Tasks, Pub/Sub)"
  combiner     = "OR"
  conditions {
    display_name = "Cloud Tasks queue depth"
    condition_threshold {
      filter          = "metric.type=\"cloudtasks.googleapis.com/queue/depth\" AND resource.type=\"cloud_tasks_queue\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.tasks_queue_depth_max
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
  conditions {
    display_name = "Pub/Sub backlog"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND NOT resource.label.subscription_id=monitoring.regex.full_match(\".*dead-letter.*\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.pubsub_backlog_max
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
  conditions {
    display_name = "Pub/Sub oldest unacked message age"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.pubsub_oldest_unacked_seconds
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
  documentation {
    content = "See docs/observability.md's alert table (queue_depth): a consumer is failing or too slow; its unit's logs say which (dead_letters, workflow_slice_failures); raise max instances or fix the failing dependency."
  }
  notification_channels = var.notification_channels
}

# 5. Security violations: any refused cross-tenant access or prompt-injection flag; failed
#    authentications above a rate (a few are normal: expired tokens).
resource "google_monitoring_alert_policy" "security_events" {
  project      = var.project_id
  display_name = "Security events (cross-tenant access, prompt injection, authentication failures)"
  combiner     = "OR"
  conditions {
    display_name = "any cross-tenant access or prompt injection"
    condition_threshold {
      filter          = "metric.type=\"${local.user}/${google_logging_metric.log["security_events"].name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.kind!=\"authentication_failed\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
  conditions {
    display_name = "authentication failures per 5 minutes"
    condition_threshold {
      filter          = "metric.type=\"${local.user}/${google_logging_metric.log["security_events"].name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.kind=\"authentication_failed\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.auth_failures_per_5min
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
  documentation {
    content = "See docs/observability.md's alert table (security_events): the log entries carry the kind, tenant and matched text; a cross-tenant attempt names the caller's token subject; block the subject in the CRM's identity provider."
  }
  notification_channels = var.notification_channels
}

# Messages that land on a dead-letter topic mean lost work unless someone looks.
resource "google_monitoring_alert_policy" "dead_letters" {
  project      = var.project_id
  display_name = "Messages on dead-letter topics"
  combiner     = "OR"
  conditions {
    display_name = "dead-letter backlog"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=monitoring.regex.full_match(\".*dead-letter.*\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
  documentation {
    content = "See docs/observability.md's alert table (dead_letters): each message carries error_code, error_message and error_field; fix the producer, then republish from the *-dead-letter-inspect subscription."
  }
  notification_channels = var.notification_channels
}
