# Cloud Scheduler jobs calling our HTTP units with an OIDC token of the scheduler identity.

resource "google_cloud_scheduler_job" "this" {
  for_each         = var.jobs
  project          = var.project_id
  region           = var.region
  name             = each.key
  description      = each.value.description
  schedule         = each.value.schedule
  time_zone        = var.time_zone
  attempt_deadline = "1800s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = "POST"
    uri         = each.value.uri
    body        = base64encode(jsonencode(each.value.body))
    headers     = { "Content-Type" = "application/json" }
    oidc_token {
      service_account_email = var.service_account_email
      audience              = each.value.uri
    }
  }
}
