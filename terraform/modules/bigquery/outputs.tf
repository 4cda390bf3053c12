output "dataset_id" { value = google_bigquery_dataset.this.dataset_id }
output "tables" { value = { llm_usage = google_bigquery_table.llm_usage.table_id } }
