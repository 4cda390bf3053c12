# The whole product for one environment: both environments instantiate this module, so dev and
# prod cannot drift apart in shape, only in the variables they pass.

locals {
  labels   = { app = "crm-ai", env = var.environment }
  topology = jsondecode(file("${path.module}/../../topology.json"))
  # Every function's trigger, identity, roles and settings: one declaration that devstack reads
  # too, so the local stack runs each unit with the settings it gets here (issue 15).
  units      = jsondecode(file("${path.module}/../../units.json"))
  functions  = local.units.functions
  infra_sets = { common = local.common_env, llm = local.llm_env }
  # Cloud Run's deterministic URL of each function: the target of push subscriptions, tasks and
  # scheduler jobs, and the audience of their OIDC tokens (the unit's SERVICE_AUDIENCE).
  function_urls = {
    for name, _ in local.functions : name => "https://${replace(name, "_", "-")}-${var.project_number}.${var.region}.run.app"
  }
  services     = local.units.services
  service_urls = { for name, _ in local.services : name => "https://${replace(name, "_", "-")}-${var.project_number}.${var.region}.run.app" }
  # The realtime service's settings, resolved as the functions' are.
  realtime_env = merge(
    local.common_env,
    {
      for var_name, ref in try(local.services.realtime.env, {}) : var_name => (
        can(ref.identity) ? local.identity_emails[ref.identity] : can(ref.url) ? local.function_urls[ref.url] : tostring(ref.value)
      )
    },
    { SERVICE_AUDIENCE = local.service_urls.realtime },
    # The console it serves: the API it calls, and sign-in through the CRM's OIDC provider.
    {
      CONSOLE_API_URL        = "https://${module.api_gateway.hostname}"
      CONSOLE_OIDC_ISSUER    = var.console_oidc_issuer
      CONSOLE_OIDC_CLIENT_ID = var.console_oidc_client_id
    },
  )
  identity_emails = merge(
    {
      pubsub_push = module.sa_pubsub_push.email
      tasks       = module.sa_tasks.email
      scheduler   = module.sa_scheduler.email
      gateway     = module.sa_gateway.email
    },
    { for name, _ in local.functions : name => module.sa_fn[name].email },
  )
  function_env = {
    for name, unit in local.functions : name => merge(concat(
      [for set in unit.sets : local.infra_sets[set]],
      [{
        for var_name, ref in try(unit.env, {}) : var_name => (
          can(ref.identity) ? local.identity_emails[ref.identity] : can(ref.url) ? local.function_urls[ref.url] : tostring(ref.value)
        )
      }],
      [{ SERVICE_AUDIENCE = local.function_urls[name] }],
    )...)
  }
  invokers = {
    http      = module.sa_gateway.member
    pubsub    = module.sa_pubsub_push.member
    tasks     = module.sa_tasks.member
    scheduler = module.sa_scheduler.member
  }
  llm_callers = { for name, unit in local.functions : name => unit if try(unit.llm_keys, false) }
  build       = "${path.module}/../../../build/functions"
  common_env = {
    APP_ENV       = var.environment
    AUTH_ISSUER   = var.jwt_issuer
    AUTH_AUDIENCE = var.jwt_audience
    AUTH_JWKS_URL = var.jwks_uri
    LOG_LEVEL     = var.log_level
    # Spans go to Cloud Trace (shared/core/tracing.py); every log line carries its trace and span.
    TRACE_EXPORTER = "cloud_trace"
    # Browsers on these origins may call the API: the console (served by the real-time
    # service) and the CRM's own web app.
    CORS_ORIGINS = join(",", concat([local.service_urls.realtime], var.cors_origins))
  }
  # Gemini runs on Vertex AI with the unit's identity; OpenAI and Anthropic keys come from
  # Secret Manager (created outside Terraform so no key ever sits in state).
  llm_env = {
    GEMINI_USE_VERTEX    = "true"
    EMBEDDING_MODEL      = var.embedding_model
    EMBEDDING_DIMENSIONS = tostring(var.embedding_dimensions)
  }
  # Vector indexes for the local model's 384 dimensions and the configured model's: both exist
  # while a change of model re-embeds (search compares only vectors of the current model).
  vector_dimensions = distinct(concat([384], var.embedding_model == "local" ? [] : [var.embedding_dimensions]))
  llm_secrets = {
    OPENAI_API_KEY    = var.openai_key_secret
    ANTHROPIC_API_KEY = var.anthropic_key_secret
  }
}

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Access logs of a build-artefact bucket add cost and no signal; Cloud Audit Logs record access.
  project                     = var.project_id
  name                        = "${var.project_id}-crm-ai-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      num_newer_versions = 5
    }
    action {
      type = "Delete"
    }
  }
}

# --- identities: one service account per function (issue 15, L10), four for the platform ---------

module "sa_fn" {
  source        = "../service_account"
  for_each      = local.functions
  project_id    = var.project_id
  account_id    = "fn-${replace(each.key, "_", "-")}"
  display_name  = "${each.key} function"
  project_roles = concat(each.value.roles, ["roles/cloudtrace.agent"]) # spans to Cloud Trace (shared/core/tracing.py)
}

# Only the functions that call OpenAI or Anthropic read their keys.
resource "google_secret_manager_secret_iam_member" "llm_keys" {
  for_each = {
    for pair in setproduct(keys(local.llm_callers), [var.openai_key_secret, var.anthropic_key_secret]) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], secret = pair[1] }
  }
  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = module.sa_fn[each.value.function].member
}

# Batch scoring and Gemini batch prediction exchange rows through the product's dataset: the
# functions that run them write and read it, Vertex AI's service agent runs the job.
resource "google_bigquery_dataset_iam_member" "dataset_editors" {
  for_each = merge(
    { for name, unit in local.functions : name => module.sa_fn[name].member if try(unit.dataset_editor, false) },
    { vertex_agent = "serviceAccount:service-${var.project_number}@gcp-sa-aiplatform.iam.gserviceaccount.com" },
  )
  project    = var.project_id
  dataset_id = module.bigquery.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = each.value
}

resource "google_project_iam_member" "vertex_agent_bigquery_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:service-${var.project_number}@gcp-sa-aiplatform.iam.gserviceaccount.com"
}

module "sa_scheduler" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = local.units.identities.scheduler
  display_name = "Cloud Scheduler (OIDC tokens to batch units)"
}

module "sa_pubsub_push" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = local.units.identities.pubsub_push
  display_name = "Pub/Sub push subscriptions (OIDC tokens to the event functions)"
}

module "sa_tasks" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = local.units.identities.tasks
  display_name = "Cloud Tasks (OIDC tokens to task targets)"
}

# The functions that enqueue workflow slices create tasks carrying the tasks identity's token.
resource "google_service_account_iam_member" "tasks_token_users" {
  for_each           = { for name, unit in local.functions : name => unit if try(unit.enqueues, false) }
  service_account_id = module.sa_tasks.name
  role               = "roles/iam.serviceAccountUser"
  member             = module.sa_fn[each.key].member
}

module "sa_gateway" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = local.units.identities.gateway
  display_name = "API Gateway backend identity"
}

# --- state and messaging ----------------------------------------------------------------------

module "firestore" {
  source                 = "../firestore"
  project_id             = var.project_id
  location               = var.firestore_location
  point_in_time_recovery = var.environment == "prod"
  delete_protection      = var.environment == "prod"
  vector_dimensions      = local.vector_dimensions
}

module "pubsub" {
  source                     = "../pubsub"
  project_id                 = var.project_id
  project_number             = var.project_number
  topology                   = local.topology
  push_service_account_email = module.sa_pubsub_push.email
  push_endpoints = merge(
    { for name, unit in local.functions : name => local.function_urls[name] if unit.trigger == "pubsub" },
    { for name, svc in local.services : name => local.service_urls[name] if svc.trigger == "pubsub" },
  )
  # Each function publishes only to the topics units.json names for it.
  publishers = concat(
    flatten([
      for name, unit in local.functions : [
        for topic in try(unit.publishes, []) : { topic = topic, member = module.sa_fn[name].member }
      ]
    ]),
    [for topic in try(local.services.realtime.publishes, []) : { topic = topic, member = module.sa_realtime.member }],
  )
  bigquery_dataset = module.bigquery.dataset_id
  kms_key_name     = var.kms_key_name
  labels           = local.labels
}

module "cloud_tasks" {
  source     = "../cloud_tasks"
  project_id = var.project_id
  region     = var.region
  topology   = local.topology
  enqueuer_members = [
    for name, unit in local.functions : module.sa_fn[name].member if try(unit.enqueues, false)
  ]
}

# --- functions: one per functions/<name>, as terraform/units.json declares it -------------------

module "fn" {
  source                = "../cloud_function"
  for_each              = local.functions
  project_id            = var.project_id
  region                = var.region
  name                  = each.key
  entry_point           = each.value.entry_point
  source_dir            = "${local.build}/${each.key}"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_fn[each.key].email
  # Only the API Gateway's backends take traffic from outside the project's network.
  ingress            = each.value.trigger == "http" ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"
  memory             = try(each.value.memory, local.units.defaults.memory)
  cpu                = try(each.value.cpu, local.units.defaults.cpu)
  timeout_seconds    = try(each.value.timeout_seconds, local.units.defaults.timeout_seconds)
  concurrency        = try(each.value.concurrency, local.units.defaults.concurrency)
  max_instances      = try(each.value.max_instances, local.units.defaults.max_instances)
  environment        = local.function_env[each.key]
  secret_environment = try(each.value.llm_keys, false) ? local.llm_secrets : {}
  invoker_members    = [local.invokers[each.value.trigger]]
  labels             = local.labels
}

module "scheduler" {
  source                = "../scheduler"
  project_id            = var.project_id
  region                = var.region
  service_account_email = module.sa_scheduler.email
  jobs = merge([
    for name, unit in local.functions : {
      for job, spec in try(unit.schedules, {}) : job => {
        schedule    = spec.schedule
        uri         = local.function_urls[name]
        body        = spec.body
        description = spec.description
      }
    }
  ]...)
}

# --- edge and operations -----------------------------------------------------------------------

module "api_gateway" {
  source       = "../api_gateway"
  project_id   = var.project_id
  region       = var.region
  api_id       = "crm-ai-${var.environment}"
  swagger_file = "${path.module}/../../../api/swagger2.json"
  backend_uris = {
    for name, unit in local.functions : name => local.function_urls[name] if unit.trigger == "http"
  }
  gateway_service_account_email = module.sa_gateway.email
  jwt_issuer                    = var.jwt_issuer
  jwks_uri                      = var.jwks_uri
  jwt_audience                  = var.jwt_audience
}

module "bigquery" {
  source         = "../bigquery"
  project_id     = var.project_id
  project_number = var.project_number
  location       = var.bigquery_location
  kms_key_name   = var.kms_key_name
  tables         = jsondecode(file("${path.module}/../../bigquery_tables.json")).tables
  labels         = local.labels
}

module "monitoring" {
  source                = "../monitoring"
  project_id            = var.project_id
  notification_channels = var.notification_channels
}

# --- real time ----------------------------------------------------------------------------------
# The WebSocket service (run_services/realtime) on Cloud Run. Each instance creates, pulls and
# deletes a subscription of its own on ai-events (every instance needs every event), so its
# identity may manage subscriptions, and nothing else on Pub/Sub.

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Images hold our code only, no customer data; Google-managed encryption suffices.
  project       = var.project_id
  location      = var.region
  repository_id = "crm-ai"
  format        = "DOCKER"
  labels        = local.labels
}

# Each real-time instance creates, pulls and deletes a subscription of its own on ai-events
# (shared/capabilities/realtime/intake.py), and nothing more: the subscription permissions hold only for
# subscriptions named ai-events-rt-* (an IAM condition), and attaching a subscription to a topic
# is granted on ai-events alone, never on crm-events (every tenant's raw CRM data).
resource "google_project_iam_custom_role" "realtime_fanout" {
  project     = var.project_id
  role_id     = "crmAiRealtimeFanout"
  title       = "CRM AI real-time fan-out"
  description = "Create, pull and delete the instance's own subscription."
  permissions = [
    "pubsub.subscriptions.create",
    "pubsub.subscriptions.consume",
    "pubsub.subscriptions.delete",
    "pubsub.subscriptions.get",
  ]
}

resource "google_project_iam_custom_role" "realtime_attach" {
  project     = var.project_id
  role_id     = "crmAiRealtimeAttach"
  title       = "CRM AI real-time attach"
  description = "Attach a subscription to the topic this role is granted on."
  permissions = ["pubsub.topics.attachSubscription"]
}

module "sa_realtime" {
  source        = "../service_account"
  project_id    = var.project_id
  account_id    = "run-realtime"
  display_name  = "realtime Cloud Run service"
  project_roles = concat(local.services.realtime.roles, ["roles/cloudtrace.agent"]) # + the durable copy of streamed events, the paths' checks
}

resource "google_project_iam_member" "realtime_fanout" {
  project = var.project_id
  role    = google_project_iam_custom_role.realtime_fanout.name
  member  = module.sa_realtime.member
  condition {
    title       = "own fan-out subscriptions"
    description = "Only subscriptions named ai-events-rt-*"
    expression  = "resource.name.startsWith(\"projects/${var.project_id}/subscriptions/ai-events-rt-\")"
  }
}

resource "google_pubsub_topic_iam_member" "realtime_attach" {
  project = var.project_id
  topic   = module.pubsub.topic_ids["ai-events"]
  role    = google_project_iam_custom_role.realtime_attach.name
  member  = module.sa_realtime.member
}

module "run_realtime" {
  source                = "../run_service"
  project_id            = var.project_id
  region                = var.region
  name                  = "realtime"
  image                 = var.realtime_image
  service_account_email = module.sa_realtime.email
  environment           = local.realtime_env
  labels                = local.labels
}

# The ai-events-stream push subscription calls the service's /_events with the push identity's
# token (the service checks it in code too); explicit, so it holds if the service is made private.
resource "google_cloud_run_v2_service_iam_member" "realtime_push" {
  project  = var.project_id
  location = var.region
  name     = module.run_realtime.name
  role     = "roles/run.invoker"
  member   = module.sa_pubsub_push.member
}
