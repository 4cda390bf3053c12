terraform {
  required_providers {
    google-beta = { source = "hashicorp/google-beta", version = "~> 6.10" }
  }
}
