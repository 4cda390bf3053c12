variable "project_id" { type = string }
variable "project_number" { type = string }
variable "environment" {
  type = string
  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment is dev or prod."
  }
}
variable "region" {
  type    = string
  default = "us-central1"
}
variable "firestore_location" {
  type    = string
  default = "nam5"
}
variable "jwt_issuer" { type = string }
variable "jwks_uri" { type = string }
variable "jwt_audience" { type = string }
variable "log_level" {
  type    = string
  default = "INFO"
}
variable "bigquery_location" {
  type    = string
  default = "US"
}
variable "openai_key_secret" {
  description = "Secret Manager secret id holding the OpenAI API key."
  type        = string
  default     = "openai-api-key"
}
variable "anthropic_key_secret" {
  description = "Secret Manager secret id holding the Anthropic API key."
  type        = string
  default     = "anthropic-api-key"
}
variable "kms_key_name" {
  type    = string
  default = null
}
variable "notification_channels" {
  type    = list(string)
  default = []
}
variable "embedding_model" {
  description = "EMBEDDING_MODEL: \"local\" (the ONNX model shipped in a package, 384 dimensions) or a Vertex AI text embedding model such as text-embedding-005. Changing it re-embeds in the background (insights_jobs)."
  type        = string
  default     = "local"
}
variable "embedding_dimensions" {
  description = "Vector size requested from a Vertex AI embedding model (EMBEDDING_DIMENSIONS)."
  type        = number
  default     = 768
}
variable "realtime_image" {
  description = "The real-time service's image: <region>-docker.pkg.dev/<project>/crm-ai/realtime:<tag> (cloudbuild.yaml builds and pushes it)."
  type        = string
}

variable "cors_origins" {
  description = "Browser origins besides the console that may call the API (the CRM's web app), e.g. https://app.example.com."
  type        = list(string)
  default     = []
}

variable "console_oidc_issuer" {
  description = "The CRM identity provider's OIDC issuer the console signs users in with (empty: paste a token)."
  type        = string
  default     = ""
}

variable "console_oidc_client_id" {
  description = "The console's OIDC client id at that provider (a public client: authorization code with PKCE)."
  type        = string
  default     = ""
}
