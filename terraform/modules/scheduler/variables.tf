variable "project_id" { type = string }
variable "region" { type = string }
variable "time_zone" {
  type    = string
  default = "Etc/UTC"
}
variable "service_account_email" { type = string }
variable "jobs" {
  description = "Job name => schedule (cron), target URI, JSON body, description."
  type = map(object({
    schedule    = string
    uri         = string
    body        = any
    description = string
  }))
}
