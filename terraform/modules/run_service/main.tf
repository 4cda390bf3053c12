# One long-lived Cloud Run service (run_services/<name>, image built by Cloud Build from
# build/run_services/<name>). Built for WebSockets: a request (socket) may last an hour, one
# instance holds many sockets, and reconnecting clients prefer the instance they had.

resource "google_cloud_run_v2_service" "this" {
  #checkov:skip=CKV_GCP_102:Browsers connect directly (API Gateway does not carry WebSockets); every socket is authenticated by the CRM's JWT in the service itself.
  name     = replace(var.name, "_", "-")
  project  = var.project_id
  location = var.region
  ingress  = "INGRESS_TRAFFIC_ALL"
  labels   = var.labels

  template {
    service_account                  = var.service_account_email
    timeout                          = "${var.timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency
    session_affinity                 = true
    labels                           = var.labels

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      image = var.image
      ports {
        container_port = 8080
      }
      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle = false # sockets stay open between messages: keep CPU for the streaming pull
      }
      dynamic "env" {
        for_each = merge(var.environment, { GOOGLE_CLOUD_PROJECT = var.project_id })
        content {
          name  = env.key
          value = env.value
        }
      }
      startup_probe {
        http_get {
          path = "/health"
        }
      }
      liveness_probe {
        http_get {
          path = "/health"
        }
      }
    }
  }
}

resource "google_cloud_run_v2_service_iam_member" "public" {
  #checkov:skip=CKV_GCP_102:As above: the CRM's JWT, not Google IAM, authenticates each socket.
  count    = var.public ? 1 : 0
  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
