variable "project_id" { type = string }
variable "region" { type = string }
variable "api_id" { type = string }
variable "swagger_file" {
  description = "The generated Swagger 2.0 document (api/swagger2.json)."
  type        = string
}
variable "backend_uris" {
  description = "Function folder name => HTTPS URI."
  type        = map(string)
}
variable "gateway_service_account_email" { type = string }
variable "jwt_issuer" { type = string }
variable "jwks_uri" { type = string }
variable "jwt_audience" { type = string }
