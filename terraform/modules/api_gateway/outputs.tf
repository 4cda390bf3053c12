output "openapi" {
  description = "The OpenAPI document the gateway serves, as YAML."
  value       = yamlencode(local.spec)
}
output "hostname" { value = google_api_gateway_gateway.this.default_hostname }
