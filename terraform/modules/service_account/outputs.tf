output "email" { value = google_service_account.this.email }
output "member" { value = "serviceAccount:${google_service_account.this.email}" }
output "name" { value = google_service_account.this.name }
