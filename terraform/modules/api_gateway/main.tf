# API Gateway in front of the HTTP functions. The OpenAPI (Swagger 2.0) document is built here
# from terraform/routes.json, the same table the local gateway (devstack/gateway.py) routes by.
# The gateway checks the CRM's JWT, then calls the function with its own identity and passes the
# caller's token on as X-Forwarded-Authorization, which shared/web/http.py verifies again.

locals {
  paths = {
    for path in distinct([for r in var.routes : r.path]) : path => {
      for r in var.routes : lower(r.method) => {
        operationId = r.operation_id
        summary     = r.summary
        parameters = [
          for p in regexall("\\{(\\w+)\\}", path) : { name = p[0], in = "path", required = true, type = "string" }
        ]
        security = [{ crm_jwt = [] }]
        responses = {
          "200" = { description = "OK" }
          "400" = { description = "Invalid input; the body names the field" }
          "401" = { description = "Missing or invalid token" }
          "403" = { description = "Role or tenant not allowed" }
          "404" = { description = "Not found in this tenant" }
        }
        x-google-backend = {
          address          = var.backend_uris[r.function]
          path_translation = "APPEND_PATH_TO_ADDRESS"
          jwt_audience     = var.backend_uris[r.function]
          deadline         = 60
        }
      } if r.path == path
    }
  }
  spec = {
    swagger  = "2.0"
    info     = { title = var.api_id, version = "1.0.0", description = "CRM AI engine" }
    schemes  = ["https"]
    produces = ["application/json"]
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
  }
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
