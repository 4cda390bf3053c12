# API Gateway in front of the HTTP functions. Its Swagger 2.0 document (api/swagger2.json) is
# generated with api/openapi.json from the route table and the routes' pydantic models
# (devstack/openapi.py; a test fails when either is stale); the local gateway routes by the same
# document. Here each operation gets its backend (from its x-function) and the JWT issuer.
# The gateway checks the CRM's JWT, then calls the function with its own identity and passes the
# caller's token on as X-Forwarded-Authorization, which shared/core/web/http.py verifies again.

locals {
  generated = jsondecode(file(var.swagger_file))
  paths = {
    for path, ops in local.generated.paths : path => {
      for method, op in ops : method => merge(
        { for k, v in op : k => v if k != "x-function" },
        {
          x-google-backend = {
            address          = var.backend_uris[op["x-function"]]
            path_translation = "APPEND_PATH_TO_ADDRESS"
            jwt_audience     = var.backend_uris[op["x-function"]]
            deadline         = 60
          }
        }
      )
    }
  }
  spec = merge(local.generated, {
    info = merge(local.generated.info, { title = var.api_id })
    securityDefinitions = {
      crm_jwt = {
        type               = "oauth2"
        flow               = "implicit"
        authorizationUrl   = ""
        x-google-issuer    = var.jwt_issuer
        x-google-jwks_uri  = var.jwks_uri
        x-google-audiences = var.jwt_audience
      }
    }
    paths = local.paths
  })
}

resource "google_api_gateway_api" "this" {
  provider = google-beta
  project  = var.project_id
  api_id   = var.api_id
}

resource "google_api_gateway_api_config" "this" {
  provider             = google-beta
  project              = var.project_id
  api                  = google_api_gateway_api.this.api_id
  api_config_id_prefix = "${var.api_id}-"

  openapi_documents {
    document {
      path     = "openapi.yaml"
      contents = base64encode(yamlencode(local.spec))
    }
  }

  gateway_config {
    backend_config {
      google_service_account = var.gateway_service_account_email
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_api_gateway_gateway" "this" {
  provider   = google-beta
  project    = var.project_id
  region     = var.region
  gateway_id = "${var.api_id}-gw"
  api_config = google_api_gateway_api_config.this.id
}
