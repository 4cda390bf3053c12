# Dashboards: an overview, and one each for LLM providers and cost, workflows, scoring and real
# time. Each chart names a metric that exists: a log-based metric declared in metrics.json (the
# `log:` prefix) or one of Google's (tests/infra/test_monitoring.py holds them to that).

locals {
  # title, metric, aligner, group-by labels (percentiles need a distribution metric)
  dashboard_charts = {
    overview = [
      ["API requests by status class", "log:api_requests", "ALIGN_RATE", ["metric.label.status_class"]],
      ["API latency p95 by route", "log:api_latency_ms", "ALIGN_PERCENTILE_95", ["metric.label.route"]],
      ["Workflow outcomes", "log:workflow_outcomes", "ALIGN_RATE", ["metric.label.outcome"]],
      ["LLM cost by feature", "log:llm_cost_usd", "ALIGN_SUM", ["metric.label.feature"]],
      ["Security events by kind", "log:security_events", "ALIGN_SUM", ["metric.label.kind"]],
      ["Dead letters by topic", "log:dead_letters", "ALIGN_SUM", ["metric.label.topic"]],
      ["Cloud Tasks queue depth", "cloudtasks.googleapis.com/queue/depth", "ALIGN_MAX", ["resource.label.queue_id"]],
      ["Pub/Sub backlog by subscription", "pubsub.googleapis.com/subscription/num_undelivered_messages", "ALIGN_MAX", ["resource.label.subscription_id"]],
    ]
    llm = [
      ["Calls by provider and outcome", "log:llm_calls", "ALIGN_RATE", ["metric.label.provider", "metric.label.outcome"]],
      ["Latency p50 by model", "log:llm_latency_ms", "ALIGN_PERCENTILE_50", ["metric.label.model"]],
      ["Latency p95 by model", "log:llm_latency_ms", "ALIGN_PERCENTILE_95", ["metric.label.model"]],
      ["Time to first token p95", "log:llm_ttft_ms", "ALIGN_PERCENTILE_95", ["metric.label.model"]],
      ["Failed attempts by kind", "log:llm_attempt_failures", "ALIGN_SUM", ["metric.label.provider", "metric.label.failure"]],
      ["Failovers", "log:llm_calls", "ALIGN_SUM", ["metric.label.failover"]],
      ["Circuit breakers", "log:llm_circuit_changes", "ALIGN_SUM", ["metric.label.model", "metric.label.state"]],
      ["Cost by provider and model", "log:llm_cost_usd", "ALIGN_SUM", ["metric.label.provider", "metric.label.model"]],
      ["Cost by tenant", "log:llm_cost_usd", "ALIGN_SUM", ["metric.label.tenant_id"]],
      ["Input tokens by tenant and feature", "log:llm_input_tokens", "ALIGN_SUM", ["metric.label.tenant_id", "metric.label.feature"]],
      ["Output tokens by model", "log:llm_output_tokens", "ALIGN_SUM", ["metric.label.model"]],
      ["Cache lookups (exact, semantic, miss)", "log:llm_calls", "ALIGN_SUM", ["metric.label.cache"]],
      ["Budget thresholds crossed", "log:llm_budget_thresholds", "ALIGN_SUM", ["metric.label.tenant_id"]],
    ]
    workflows = [
      ["Outcomes by type", "log:workflow_outcomes", "ALIGN_SUM", ["metric.label.workflow_type", "metric.label.outcome"]],
      ["Within deadline", "log:workflow_outcomes", "ALIGN_SUM", ["metric.label.in_time"]],
      ["Run duration p95 by type", "log:workflow_duration_ms", "ALIGN_PERCENTILE_95", ["metric.label.workflow_type"]],
      ["Step duration p95 by node (bottlenecks)", "log:workflow_step_duration_ms", "ALIGN_PERCENTILE_95", ["metric.label.node"]],
      ["Steps by agent and status", "log:workflow_steps", "ALIGN_SUM", ["metric.label.agent", "metric.label.status"]],
      ["Slice failures by type", "log:workflow_slice_failures", "ALIGN_SUM", ["metric.label.workflow_type"]],
      ["Runner queue depth", "cloudtasks.googleapis.com/queue/depth", "ALIGN_MAX", ["resource.label.queue_id"]],
      ["Task attempts", "cloudtasks.googleapis.com/queue/task_attempt_count", "ALIGN_SUM", ["metric.label.response_code"]],
      ["Task age at attempt p95 (scheduled to run)", "cloudtasks.googleapis.com/queue/task_attempt_delays", "ALIGN_PERCENTILE_95", ["resource.label.queue_id"]],
    ]
    scoring = [
      ["Score PSI by tenant", "log:scoring_psi", "ALIGN_PERCENTILE_50", ["metric.label.tenant_id"]],
      ["Realised AUC by tenant", "log:scoring_auc", "ALIGN_PERCENTILE_50", ["metric.label.tenant_id"]],
      ["Calibration error by tenant", "log:scoring_ece", "ALIGN_PERCENTILE_50", ["metric.label.tenant_id"]],
      ["Insight grounding", "log:insight_grounding", "ALIGN_PERCENTILE_50", ["metric.label.kind"]],
      ["Score and embedding cache hits", "log:cache_hits", "ALIGN_DELTA", ["metric.label.cache"]],
      ["Score and embedding cache misses", "log:cache_misses", "ALIGN_DELTA", ["metric.label.cache"]],
      ["Scoring API latency p95", "log:api_latency_ms", "ALIGN_PERCENTILE_95", ["metric.label.route"]],
    ]
    realtime = [
      ["Sockets opened, closed, refused", "log:socket_connections", "ALIGN_SUM", ["metric.label.state", "metric.label.stream"]],
      ["Deliveries (sockets reached per event)", "log:socket_deliveries", "ALIGN_PERCENTILE_95", ["metric.label.event_type"]],
      ["Publish-to-socket latency p95", "log:socket_publish_latency_ms", "ALIGN_PERCENTILE_95", []],
      ["Resyncs by reason", "log:socket_resyncs", "ALIGN_SUM", ["metric.label.reason"]],
      ["ai-events backlog", "pubsub.googleapis.com/subscription/num_undelivered_messages", "ALIGN_MAX", ["resource.label.subscription_id"]],
      ["Oldest unacked age", "pubsub.googleapis.com/subscription/oldest_unacked_message_age", "ALIGN_MAX", ["resource.label.subscription_id"]],
    ]
  }
  metric_type = {
    for name, charts in local.dashboard_charts : name => [
      for c in charts : startswith(c[1], "log:") ? "${local.user}/${google_logging_metric.log[trimprefix(c[1], "log:")].name}" : c[1]
    ]
  }
}

resource "google_monitoring_dashboard" "this" {
  for_each = local.dashboard_charts
  project  = var.project_id
  dashboard_json = jsonencode({
    displayName = "CRM AI: ${each.key}"
    mosaicLayout = {
      columns = 12
      tiles = [
        for i, c in each.value : {
          xPos   = (i % 2) * 6
          yPos   = floor(i / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = c[0]
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = "metric.type=\"${local.metric_type[each.key][i]}\""
                    # A percentile of a distribution: deltas per series, the percentile across them.
                    aggregation = {
                      alignmentPeriod    = "60s"
                      perSeriesAligner   = startswith(c[2], "ALIGN_PERCENTILE_") ? "ALIGN_DELTA" : c[2]
                      crossSeriesReducer = startswith(c[2], "ALIGN_PERCENTILE_") ? replace(c[2], "ALIGN_", "REDUCE_") : "REDUCE_SUM"
                      groupByFields      = c[3]
                    }
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })
}
