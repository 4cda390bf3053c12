# SLOs with burn-rate alerts: API availability and latency (measured in the functions behind the
# gateway: every request logs one api_request line), and workflows that finish or reach a person
# within their deadline (every first stop of a run logs in_time).

resource "google_monitoring_custom_service" "crm_ai" {
  project      = var.project_id
  service_id   = "crm-ai"
  display_name = "CRM AI engine"
}

locals {
  api_requests = "metric.type=\"${local.user}/${google_logging_metric.log["api_requests"].name}\" AND resource.type=\"cloud_run_revision\""
  outcomes     = "metric.type=\"${local.user}/${google_logging_metric.log["workflow_outcomes"].name}\" AND resource.type=\"cloud_run_revision\""
  slos = {
    api_availability = google_monitoring_slo.api_availability.name
    api_latency      = google_monitoring_slo.api_latency.name
    workflow_in_time = google_monitoring_slo.workflow_in_time.name
  }
  # Google's multi-window advice for a 28-day budget: 2 % of it in an hour pages (14.4x), 5 %
  # in six hours pages too (6x).
  burn_windows = { fast = { window = "3600s", rate = 14.4 }, slow = { window = "21600s", rate = 6 } }
}

resource "google_monitoring_slo" "api_availability" {
  project             = var.project_id
  service             = google_monitoring_custom_service.crm_ai.service_id
  slo_id              = "api-availability"
  display_name        = "API requests answered without a server error"
  goal                = var.api_availability_goal
  rolling_period_days = 28
  request_based_sli {
    good_total_ratio {
      good_service_filter  = "${local.api_requests} AND metric.label.status_class!=\"5xx\""
      total_service_filter = local.api_requests
    }
  }
}

resource "google_monitoring_slo" "api_latency" {
  project             = var.project_id
  service             = google_monitoring_custom_service.crm_ai.service_id
  slo_id              = "api-latency"
  display_name        = "API requests served within the latency threshold"
  goal                = var.api_latency_goal
  rolling_period_days = 28
  request_based_sli {
    distribution_cut {
      distribution_filter = "metric.type=\"${local.user}/${google_logging_metric.log["api_latency_ms"].name}\" AND resource.type=\"cloud_run_revision\""
      range {
        max = var.api_latency_threshold_ms
      }
    }
  }
}

resource "google_monitoring_slo" "workflow_in_time" {
  project             = var.project_id
  service             = google_monitoring_custom_service.crm_ai.service_id
  slo_id              = "workflow-in-time"
  display_name        = "Workflows that finish or reach a person within their deadline"
  goal                = var.workflow_deadline_goal
  rolling_period_days = 28
  request_based_sli {
    good_total_ratio {
      good_service_filter  = "${local.outcomes} AND metric.label.in_time=\"true\""
      total_service_filter = "${local.outcomes} AND metric.label.in_time!=\"n/a\" AND metric.label.outcome!=\"cancelled\""
    }
  }
}

resource "google_monitoring_alert_policy" "slo_burn" {
  for_each     = local.slos
  project      = var.project_id
  display_name = "SLO burn rate: ${each.key}"
  combiner     = "OR"
  dynamic "conditions" {
    for_each = local.burn_windows
    content {
      display_name = "${conditions.key} burn (${conditions.value.window})"
      condition_threshold {
        filter          = "select_slo_burn_rate(\"${each.value}\", \"${conditions.value.window}\")"
        comparison      = "COMPARISON_GT"
        threshold_value = conditions.value.rate
        duration        = "0s"
      }
    }
  }
  documentation {
    content = "See docs/observability.md's alert table (slo_burn): the error budget of ${each.key} burns too fast; the overview dashboard shows which route or workflow type."
  }
  notification_channels = var.notification_channels
}
