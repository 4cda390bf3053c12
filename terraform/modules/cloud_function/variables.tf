variable "project_id" { type = string }
variable "region" { type = string }
variable "name" {
  description = "The folder under functions/ (also the function's name, with - for _)."
  type        = string
}
variable "entry_point" {
  description = "The decorated function in functions/<name>/main.py."
  type        = string
}
variable "source_dir" {
  description = "The packaged folder, build/functions/<name> (scripts/package)."
  type        = string
}
variable "source_bucket" { type = string }
variable "runtime" {
  type    = string
  default = "python312"
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
  type    = number
  default = 60
}
variable "max_instances" {
  type    = number
  default = 20
}
variable "min_instances" {
  type    = number
  default = 0
}
variable "concurrency" {
  type    = number
  default = 8
}
variable "ingress" {
  description = "ALLOW_INTERNAL_ONLY for event targets; ALLOW_ALL behind API Gateway (IAM still applies)."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
}
variable "environment" {
  type    = map(string)
  default = {}
}
variable "secret_environment" {
  description = "Environment variable => Secret Manager secret id (latest version)."
  type        = map(string)
  default     = {}
}
variable "invoker_members" {
  type    = list(string)
  default = []
}
variable "labels" {
  type    = map(string)
  default = {}
}
