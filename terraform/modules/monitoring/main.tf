# Security events (shared/tenancy/security.py logs them with a security_event field) are counted
# by a log-based metric, and any occurrence alerts.

resource "google_logging_metric" "security_events" {
  project = var.project_id
  name    = "security_events"
  filter  = "jsonPayload.security_event:*"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key        = "kind"
      value_type = "STRING"
    }
    labels {
      key        = "tenant_id"
      value_type = "STRING"
    }
  }
  label_extractors = {
    kind      = "EXTRACT(jsonPayload.security_event)"
    tenant_id = "EXTRACT(jsonPayload.tenant_id)"
  }
}

resource "google_monitoring_alert_policy" "security_events" {
  project      = var.project_id
  display_name = "Security events (cross-tenant access and similar)"
  combiner     = "OR"
  conditions {
    display_name = "any security event"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.security_events.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
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
  notification_channels = var.notification_channels
}

# LLM calls: every call logs one "llm call" entry with metric=llm_call (shared/llm/client.py).
# Success rate, cache-hit rate and cost per provider are ratios and sums of these in dashboards.
resource "google_logging_metric" "llm_calls" {
  project = var.project_id
  name    = "llm_calls"
  filter  = "jsonPayload.metric=\"llm_call\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key        = "provider"
      value_type = "STRING"
    }
    labels {
      key        = "outcome"
      value_type = "STRING"
    }
    labels {
      key        = "cache_hit"
      value_type = "STRING"
    }
    labels {
      key        = "feature"
      value_type = "STRING"
    }
  }
  label_extractors = {
    provider  = "EXTRACT(jsonPayload.provider)"
    outcome   = "EXTRACT(jsonPayload.outcome)"
    cache_hit = "EXTRACT(jsonPayload.cache_hit)"
    feature   = "EXTRACT(jsonPayload.feature)"
  }
}

resource "google_logging_metric" "llm_latency" {
  project         = var.project_id
  name            = "llm_latency_ms"
  filter          = "jsonPayload.metric=\"llm_call\" AND jsonPayload.outcome=\"ok\""
  value_extractor = "EXTRACT(jsonPayload.latency_ms)"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
    labels {
      key        = "model"
      value_type = "STRING"
    }
  }
  label_extractors = { model = "EXTRACT(jsonPayload.model)" }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 20
      growth_factor      = 2
      scale              = 10
    }
  }
}

resource "google_logging_metric" "llm_cost" {
  project         = var.project_id
  name            = "llm_cost_usd"
  filter          = "jsonPayload.metric=\"llm_call\""
  value_extractor = "EXTRACT(jsonPayload.cost_usd)"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    labels {
      key        = "provider"
      value_type = "STRING"
    }
  }
  label_extractors = { provider = "EXTRACT(jsonPayload.provider)" }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 20
      growth_factor      = 4
      scale              = 0.000001
    }
  }
}
