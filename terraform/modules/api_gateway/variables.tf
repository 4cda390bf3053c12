variable "project_id" { type = string }
variable "region" { type = string }
variable "api_id" { type = string }
variable "routes" {
  description = "jsondecode(file(\"terraform/routes.json\")).routes"
  type        = list(object({ method = string, path = string, function = string, operation_id = string, summary = string }))
}
variable "backend_uris" {
  description = "Function folder name => HTTPS URI."
  type        = map(string)
}
variable "gateway_service_account_email" { type = string }
variable "jwt_issuer" { type = string }
variable "jwks_uri" { type = string }
variable "jwt_audience" { type = string }
