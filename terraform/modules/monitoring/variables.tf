variable "project_id" { type = string }
variable "notification_channels" {
  description = "Where every alert policy goes (Cloud Monitoring notification channel ids)."
  type        = list(string)
  default     = []
}

# Thresholds of the five rules (docs/observability.md). Defaults suit a small production tenant
# base; each environment may override them.
variable "llm_cost_alert_usd_per_hour" {
  description = "Project-wide LLM spend per hour above which the cost alert fires."
  type        = number
  default     = 50
}
variable "scoring_psi_alert" {
  description = "Score PSI against the model's training profile above which scoring has drifted (0.25 is the usual 'significant shift')."
  type        = number
  default     = 0.25
}
variable "scoring_auc_floor" {
  description = "Realised AUC of a tenant's scoring model below which it has degraded."
  type        = number
  default     = 0.65
}
variable "grounding_floor" {
  description = "Median grounding of insights or chat answers (0-1) below which answers stopped citing their sources, sustained for an hour."
  type        = number
  default     = 0.5
}
variable "provider_failures_per_minute" {
  description = "Failed attempts per minute on one provider, sustained 5 minutes, that count as an outage."
  type        = number
  default     = 20
}
variable "tasks_queue_depth_max" {
  description = "Cloud Tasks queue depth, sustained 5 minutes, past the runner's capacity."
  type        = number
  default     = 500
}
variable "pubsub_backlog_max" {
  description = "Undelivered messages on a (non dead-letter) subscription, sustained 5 minutes."
  type        = number
  default     = 1000
}
variable "pubsub_oldest_unacked_seconds" {
  description = "Age of a subscription's oldest unacked message, sustained 5 minutes."
  type        = number
  default     = 600
}
variable "auth_failures_per_5min" {
  description = "Failed authentications (401) per 5 minutes, all units, above which someone is probing."
  type        = number
  default     = 100
}

# SLOs (docs/observability.md).
variable "api_availability_goal" {
  description = "Share of API requests answered without a 5xx, over 28 days."
  type        = number
  default     = 0.995
}
variable "api_latency_goal" {
  description = "Share of API requests served within api_latency_threshold_ms, over 28 days."
  type        = number
  default     = 0.95
}
variable "api_latency_threshold_ms" {
  description = "The latency SLO's threshold (server time in the function)."
  type        = number
  default     = 1000
}
variable "workflow_deadline_goal" {
  description = "Share of workflow runs that finish or reach a person within their type's deadline (shared/capabilities/workflows/runner.py DEADLINE_SECONDS), over 28 days."
  type        = number
  default     = 0.99
}
