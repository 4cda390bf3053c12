# One Cloud Functions (2nd gen) unit built from build/functions/<name> (scripts/package).
# Every function is HTTP-triggered: Pub/Sub reaches event functions through our own push
# subscription (modules/pubsub), so the retry and dead-letter policies are ours to declare.

resource "google_storage_bucket_object" "source" {
  name   = "functions/${var.name}-${data.archive_file.source.output_md5}.zip"
  bucket = var.source_bucket
  source = data.archive_file.source.output_path
}

data "archive_file" "source" {
  type        = "zip"
  source_dir  = var.source_dir
  output_path = "${path.root}/.build/${var.name}.zip"
}

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:Ingress is per function (terraform/units.json): Pub/Sub push, Cloud Tasks and Cloud Scheduler targets get ALLOW_INTERNAL_ONLY (those services count as internal callers); HTTP targets behind API Gateway need ALLOW_ALL (the gateway calls from outside the VPC) and are locked to the gateway's identity by roles/run.invoker.
  name     = replace(var.name, "_", "-")
  project  = var.project_id
  location = var.region

  build_config {
    runtime     = var.runtime
    entry_point = var.entry_point
    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email            = var.service_account_email
    available_memory                 = var.memory
    timeout_seconds                  = var.timeout_seconds
    max_instance_count               = var.max_instances
    min_instance_count               = var.min_instances
    max_instance_request_concurrency = var.concurrency
    available_cpu                    = var.cpu
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    environment_variables = merge(var.environment, {
      GOOGLE_CLOUD_PROJECT = var.project_id
      FUNCTION_REGION      = var.region
    })

    dynamic "secret_environment_variables" {
      for_each = var.secret_environment
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  labels = var.labels
}

# Only the named identities (the gateway, the push or tasks service account) may invoke it.
resource "google_cloud_run_service_iam_member" "invokers" {
  for_each = toset(var.invoker_members)
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.this.service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value
}
