output "queue_ids" { value = { for k, q in google_cloud_tasks_queue.this : k => q.id } }
