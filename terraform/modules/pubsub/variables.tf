variable "project_id" { type = string }
variable "project_number" { type = string }
variable "topology" {
  description = "jsondecode(file(\"terraform/topology.json\"))"
  type        = any
}
variable "push_endpoints" {
  description = "Function folder name => HTTPS URI of its service, for push subscriptions."
  type        = map(string)
}
variable "push_service_account_email" { type = string }
variable "publishers" {
  description = "Which member may publish to which topic."
  type        = list(object({ topic = string, member = string }))
  default     = []
}
variable "bigquery_dataset" {
  description = "Dataset of subscriptions that write to BigQuery (bigquery_table in topology.json)."
  type        = string
  default     = "crm_ai"
}
variable "kms_key_name" {
  type    = string
  default = null
}
variable "labels" {
  type    = map(string)
  default = {}
}
