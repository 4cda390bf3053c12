# Cloud Tasks queues as terraform/topology.json declares them (interactive before batch).

resource "google_cloud_tasks_queue" "this" {
  for_each = { for q in var.topology.queues : q.name => q }
  project  = var.project_id
  location = var.region
  name     = each.key

  rate_limits {
    max_dispatches_per_second = each.value.max_dispatches_per_second
    max_concurrent_dispatches = each.value.max_concurrent_dispatches
  }

  retry_config {
    max_attempts  = each.value.max_attempts
    min_backoff   = "${each.value.min_backoff_seconds}s"
    max_backoff   = "${each.value.max_backoff_seconds}s"
    max_doublings = 5
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }
}

resource "google_cloud_tasks_queue_iam_member" "enqueuers" {
  for_each = { for pair in setproduct(keys(google_cloud_tasks_queue.this), var.enqueuer_members) : "${pair[0]}/${pair[1]}" => pair }
  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.this[each.value[0]].name
  role     = "roles/cloudtasks.enqueuer"
  member   = each.value[1]
}
