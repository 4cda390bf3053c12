variable "project_id" { type = string }
variable "region" { type = string }
variable "name" {
  description = "The folder under run_services/ (also the service's name, with - for _)."
  type        = string
}
variable "image" {
  description = "The container image built from build/run_services/<name> (cloudbuild.yaml)."
  type        = string
}
variable "service_account_email" { type = string }
variable "memory" {
  type    = string
  default = "512Mi"
}
variable "cpu" {
  type    = string
  default = "1"
}
variable "timeout_seconds" {
  description = "How long one socket may stay open (Cloud Run's maximum is 3600); clients reconnect."
  type        = number
  default     = 3600
}
variable "concurrency" {
  description = "Sockets per instance."
  type        = number
  default     = 1000
}
variable "min_instances" {
  type    = number
  default = 1
}
variable "max_instances" {
  type    = number
  default = 10
}
variable "public" {
  description = "Reachable without Google IAM (browsers); the service checks the CRM's JWT."
  type        = bool
  default     = true
}
variable "environment" {
  type    = map(string)
  default = {}
}
variable "labels" {
  type    = map(string)
  default = {}
}
