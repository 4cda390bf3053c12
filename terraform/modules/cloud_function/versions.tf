terraform {
  required_providers {
    google  = { source = "hashicorp/google", version = "~> 6.10" }
    archive = { source = "hashicorp/archive", version = "~> 2.6" }
  }
}
