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
  type    = string
  default = null
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
