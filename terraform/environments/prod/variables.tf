variable "project_id" { type = string }
variable "project_number" { type = string }
variable "region" {
  type    = string
  default = "us-central1"
}
variable "jwt_issuer" { type = string }
variable "jwks_uri" { type = string }
variable "jwt_audience" { type = string }
variable "kms_key_name" {
  # Required in prod (no default): the topics' checkov skip (CKV_GCP_83) rests on prod setting a
  # customer-managed key; dev uses Google-managed keys (issue 15, L10).
  description = "Cloud KMS key for the Pub/Sub topics (projects/P/locations/L/keyRings/R/cryptoKeys/K)."
  type        = string
  validation {
    condition     = length(var.kms_key_name) > 0
    error_message = "prod encrypts its topics with a customer-managed key: set kms_key_name."
  }
}
variable "notification_channels" {
  type    = list(string)
  default = []
}
variable "embedding_model" {
  description = "\"local\" or a Vertex AI text embedding model (text-embedding-005); a change re-embeds in the background."
  type        = string
  default     = "local"
}
variable "realtime_image" {
  description = "Set by cloudbuild.yaml: the real-time service image it built and pushed."
  type        = string
}
