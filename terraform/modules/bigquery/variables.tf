variable "project_id" { type = string }
variable "project_number" { type = string }
variable "dataset_id" {
  type    = string
  default = "crm_ai"
}
variable "location" {
  type    = string
  default = "US"
}
variable "tables" {
  description = "jsondecode(file(\"terraform/bigquery_tables.json\")).tables"
  type        = any
  default     = {}
}
variable "kms_key_name" {
  type    = string
  default = null
}
variable "labels" {
  type    = map(string)
  default = {}
}
