variable "project_id" { type = string }
variable "location" { type = string }
variable "point_in_time_recovery" {
  type    = bool
  default = true
}
variable "delete_protection" {
  type    = bool
  default = true
}
variable "ttl_collections" {
  description = "Collection groups whose documents expire at their expires_at field."
  type        = list(string)
  default     = ["idempotency", "llm_cache", "llm_semantic_cache", "llm_usage", "checkpoints", "blobs", "blob_chunks", "writes", "stream_events"]
}
variable "vector_dimensions" {
  description = "Sizes of the embedding vectors to index (the local model's 384, and a configured Vertex AI model's)."
  type        = list(number)
  default     = [384]
}
