variable "project_id" { type = string }
variable "account_id" { type = string }
variable "display_name" { type = string }
variable "project_roles" {
  type    = list(string)
  default = []
  validation {
    condition     = alltrue([for r in var.project_roles : !contains(["roles/owner", "roles/editor"], r)])
    error_message = "Primitive roles are never granted to a unit's service account."
  }
}
