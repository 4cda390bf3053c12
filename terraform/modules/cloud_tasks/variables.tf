variable "project_id" { type = string }
variable "region" { type = string }
variable "topology" { type = any }
variable "enqueuer_members" {
  type    = list(string)
  default = []
}
