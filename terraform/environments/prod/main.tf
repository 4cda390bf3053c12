# The prod environment: the platform module with prod's settings.
# State lives in GCS; cloudbuild.yaml passes the bucket: terraform init -backend-config=bucket=...

terraform {
  required_version = ">= 1.9"
  backend "gcs" {
    prefix = "crm-ai/prod"
  }
  required_providers {
    google      = { source = "hashicorp/google", version = "~> 6.10" }
    google-beta = { source = "hashicorp/google-beta", version = "~> 6.10" }
    archive     = { source = "hashicorp/archive", version = "~> 2.6" }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}

module "platform" {
  source                = "../../modules/platform"
  project_id            = var.project_id
  project_number        = var.project_number
  environment           = "prod"
  region                = var.region
  jwt_issuer            = var.jwt_issuer
  jwks_uri              = var.jwks_uri
  jwt_audience          = var.jwt_audience
  log_level             = "INFO"
  kms_key_name          = var.kms_key_name
  notification_channels = var.notification_channels
  embedding_model       = var.embedding_model
  realtime_image        = var.realtime_image
}

output "gateway_hostname" { value = module.platform.gateway_hostname }
output "openapi" { value = module.platform.openapi }
output "realtime_uri" { value = module.platform.realtime_uri }
