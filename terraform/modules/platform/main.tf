# The whole product for one environment: both environments instantiate this module, so dev and
# prod cannot drift apart in shape, only in the variables they pass.

locals {
  labels   = { app = "crm-ai", env = var.environment }
  topology = jsondecode(file("${path.module}/../../topology.json"))
  build    = "${path.module}/../../../build/functions"
  common_env = {
    APP_ENV       = var.environment
    AUTH_ISSUER   = var.jwt_issuer
    AUTH_AUDIENCE = var.jwt_audience
    AUTH_JWKS_URL = var.jwks_uri
    LOG_LEVEL     = var.log_level
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

# --- identities -------------------------------------------------------------------------------

module "sa_crm_events" {
  source        = "../service_account"
  project_id    = var.project_id
  account_id    = "fn-crm-events"
  display_name  = "crm_events function"
  project_roles = ["roles/datastore.user", "roles/logging.logWriter"]
}

module "sa_crm_api" {
  source        = "../service_account"
  project_id    = var.project_id
  account_id    = "fn-crm-api"
  display_name  = "crm_api function"
  project_roles = ["roles/datastore.viewer", "roles/logging.logWriter"]
}

# Every unit that calls LLMs (usage, prompts, batches today; workflows, insights later) runs as this
# identity: it reads and writes the usage ledger and publishes usage records and budget alerts.
module "sa_llm_caller" {
  source        = "../service_account"
  project_id    = var.project_id
  account_id    = "fn-llm-caller"
  display_name  = "Functions that call LLM providers"
  project_roles = ["roles/datastore.user", "roles/logging.logWriter", "roles/aiplatform.user", "roles/bigquery.jobUser"]
}

# usage_api reads the ledger and policies and calls no provider: an identity of its own, with no
# access to the LLM keys (issue 15, L10: it ran as fn-llm-caller, which can read them).
module "sa_usage_api" {
  source        = "../service_account"
  project_id    = var.project_id
  account_id    = "fn-usage-api"
  display_name  = "usage_api (reads usage and policies)"
  project_roles = ["roles/datastore.user", "roles/logging.logWriter"]
}

# Gemini batch prediction on Vertex AI exchanges requests and answers through tables in the
# product's dataset: the LLM callers write and read them, Vertex AI's service agent runs the job.
resource "google_bigquery_dataset_iam_member" "llm_batch_tables" {
  for_each = {
    llm_caller   = module.sa_llm_caller.member
    vertex_agent = "serviceAccount:service-${var.project_number}@gcp-sa-aiplatform.iam.gserviceaccount.com"
  }
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

# The nightly scoring job submits batch LLM jobs (score explanations): it reads the keys too.
resource "google_secret_manager_secret_iam_member" "llm_keys_scoring" {
  for_each  = toset([var.openai_key_secret, var.anthropic_key_secret])
  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = module.sa_scoring.member
}

resource "google_secret_manager_secret_iam_member" "llm_keys" {
  for_each  = toset([var.openai_key_secret, var.anthropic_key_secret])
  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = module.sa_llm_caller.member
}

module "sa_scoring" {
  source        = "../service_account"
  project_id    = var.project_id
  account_id    = "fn-scoring"
  display_name  = "Lead scoring functions"
  project_roles = ["roles/datastore.user", "roles/logging.logWriter", "roles/bigquery.jobUser", "roles/aiplatform.user"]
}

resource "google_bigquery_dataset_iam_member" "scoring_writer" {
  project    = var.project_id
  dataset_id = module.bigquery.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = module.sa_scoring.member
}

module "sa_scheduler" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = "scheduler-invoker"
  display_name = "Cloud Scheduler (OIDC tokens to batch units)"
}

module "sa_pubsub_push" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = "pubsub-push"
  display_name = "Pub/Sub push subscriptions (OIDC tokens to the event functions)"
}

module "sa_tasks" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = "tasks-invoker"
  display_name = "Cloud Tasks (OIDC tokens to task targets)"
}

module "sa_workflows_api" {
  source        = "../service_account"
  project_id    = var.project_id
  account_id    = "fn-workflows-api"
  display_name  = "workflows_api function"
  project_roles = ["roles/datastore.user", "roles/logging.logWriter"]
}

# The workflow functions enqueue tasks that carry the tasks identity's OIDC token.
resource "google_service_account_iam_member" "tasks_token_users" {
  for_each           = { api = module.sa_workflows_api.member, runner = module.sa_llm_caller.member }
  service_account_id = module.sa_tasks.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}

module "sa_gateway" {
  source       = "../service_account"
  project_id   = var.project_id
  account_id   = "api-gateway"
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
  push_endpoints = {
    crm_events      = module.fn_crm_events.uri
    scoring_events  = module.fn_scoring_events.uri
    workflow_events = module.fn_workflow_events.uri
    insights_events = module.fn_insights_events.uri
  }
  publishers = [
    { topic = "ai-events", member = module.sa_crm_events.member },
    { topic = "crm-events-dead-letter", member = module.sa_crm_events.member },
    { topic = "ai-events", member = module.sa_llm_caller.member },
    { topic = "llm-usage", member = module.sa_llm_caller.member },
    { topic = "ai-events", member = module.sa_scoring.member },
    { topic = "llm-usage", member = module.sa_scoring.member },
    { topic = "ai-events", member = module.sa_workflows_api.member },
    # The ai-event functions send a message that can never succeed there at once, with the reason.
    { topic = "ai-events-dead-letter", member = module.sa_scoring.member },       # scoring_events
    { topic = "ai-events-dead-letter", member = module.sa_workflows_api.member }, # workflow_events
    { topic = "ai-events-dead-letter", member = module.sa_llm_caller.member },    # insights_events
  ]
  bigquery_dataset = module.bigquery.dataset_id
  kms_key_name     = var.kms_key_name
  labels           = local.labels
}

module "cloud_tasks" {
  source           = "../cloud_tasks"
  project_id       = var.project_id
  region           = var.region
  topology         = local.topology
  enqueuer_members = [module.sa_workflows_api.member, module.sa_llm_caller.member]
}

# --- functions: one module per functions/<name> (tests/infra checks the entry points) -----------

module "fn_crm_events" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "crm_events"
  entry_point           = "handle_crm_event"
  source_dir            = "${local.build}/crm_events"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_crm_events.email
  ingress               = "ALLOW_INTERNAL_ONLY"
  environment           = local.common_env
  invoker_members       = [module.sa_pubsub_push.member]
  labels                = local.labels
}

module "fn_crm_api" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "crm_api"
  entry_point           = "crm_api"
  source_dir            = "${local.build}/crm_api"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_crm_api.email
  ingress               = "ALLOW_ALL"
  environment           = local.common_env
  invoker_members       = [module.sa_gateway.member]
  labels                = local.labels
}

module "fn_usage_api" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "usage_api"
  entry_point           = "usage_api"
  source_dir            = "${local.build}/usage_api"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_usage_api.email
  ingress               = "ALLOW_ALL"
  environment           = merge(local.common_env, local.llm_env)
  invoker_members       = [module.sa_gateway.member]
  labels                = local.labels
}

module "fn_workflows_api" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "workflows_api"
  entry_point           = "workflows_api"
  source_dir            = "${local.build}/workflows_api"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_workflows_api.email
  ingress               = "ALLOW_ALL"
  environment = merge(local.common_env, {
    WORKFLOW_RUNNER_URL   = module.fn_workflow_runner.uri
    TASKS_SERVICE_ACCOUNT = module.sa_tasks.email
  })
  invoker_members = [module.sa_gateway.member]
  labels          = local.labels
}

# Starts the workflows a tenant configured for CRM events (ai-events push, filtered).
module "fn_workflow_events" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "workflow_events"
  entry_point           = "handle_workflow_event"
  source_dir            = "${local.build}/workflow_events"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_workflows_api.email
  ingress               = "ALLOW_INTERNAL_ONLY"
  environment = merge(local.common_env, {
    WORKFLOW_RUNNER_URL   = module.fn_workflow_runner.uri
    TASKS_SERVICE_ACCOUNT = module.sa_tasks.email
  })
  invoker_members = [module.sa_pubsub_push.member]
  labels          = local.labels
}

# Runs workflow slices for Cloud Tasks; enqueues the next slice to the URL it was called at.
module "fn_workflow_runner" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "workflow_runner"
  entry_point           = "workflow_runner"
  source_dir            = "${local.build}/workflow_runner"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_llm_caller.email
  ingress               = "ALLOW_INTERNAL_ONLY"
  memory                = "1Gi"
  timeout_seconds       = 300
  environment = merge(local.common_env, local.llm_env, {
    TASKS_SERVICE_ACCOUNT = module.sa_tasks.email
  })
  secret_environment = local.llm_secrets
  invoker_members    = [module.sa_tasks.member]
  labels             = local.labels
}

module "fn_insights_api" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "insights_api"
  entry_point           = "insights_api"
  source_dir            = "${local.build}/insights_api"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_llm_caller.email
  ingress               = "ALLOW_ALL"
  memory                = "1Gi"
  environment           = merge(local.common_env, local.llm_env)
  secret_environment    = local.llm_secrets
  invoker_members       = [module.sa_gateway.member]
  labels                = local.labels
}

# Indexes each customer's new interactions for retrieval (ai-events push, filtered).
module "fn_insights_events" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "insights_events"
  entry_point           = "handle_history_event"
  source_dir            = "${local.build}/insights_events"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_llm_caller.email
  ingress               = "ALLOW_INTERNAL_ONLY"
  memory                = "1Gi"
  environment           = merge(local.common_env, local.llm_env)
  secret_environment    = local.llm_secrets
  invoker_members       = [module.sa_pubsub_push.member]
  labels                = local.labels
}

# Background insights work on Cloud Scheduler: the batched refresh of stale insights and the
# re-embedding after a change of embedding model.
module "fn_insights_jobs" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "insights_jobs"
  entry_point           = "insights_jobs"
  source_dir            = "${local.build}/insights_jobs"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_llm_caller.email
  ingress               = "ALLOW_INTERNAL_ONLY"
  memory                = "1Gi"
  timeout_seconds       = 900
  concurrency           = 1
  # Without it every scheduled job was refused in the cloud (issue 15).
  environment        = merge(local.common_env, local.llm_env, { SCHEDULER_SERVICE_ACCOUNT = module.sa_scheduler.email })
  secret_environment = local.llm_secrets
  invoker_members    = [module.sa_scheduler.member]
  labels             = local.labels
}

module "fn_prompts_api" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "prompts_api"
  entry_point           = "prompts_api"
  source_dir            = "${local.build}/prompts_api"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_llm_caller.email
  ingress               = "ALLOW_ALL"
  environment           = local.common_env
  invoker_members       = [module.sa_gateway.member]
  labels                = local.labels
}

module "fn_llm_batches" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "llm_batches"
  entry_point           = "llm_batches"
  source_dir            = "${local.build}/llm_batches"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_llm_caller.email
  ingress               = "ALLOW_ALL"
  environment           = merge(local.common_env, local.llm_env)
  secret_environment    = local.llm_secrets
  invoker_members       = [module.sa_gateway.member]
  labels                = local.labels
}

# Collects finished provider batches and runs the leftovers online: its own instances, so the
# online fallback never competes with interactive requests for a function's concurrency.
module "fn_llm_batch_jobs" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "llm_batch_jobs"
  entry_point           = "llm_batch_jobs"
  source_dir            = "${local.build}/llm_batch_jobs"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_llm_caller.email
  ingress               = "ALLOW_INTERNAL_ONLY"
  timeout_seconds       = 900
  concurrency           = 1
  environment = merge(local.common_env, local.llm_env, {
    SCHEDULER_SERVICE_ACCOUNT = module.sa_scheduler.email
  })
  secret_environment = local.llm_secrets
  invoker_members    = [module.sa_scheduler.member]
  labels             = local.labels
}

module "fn_scoring_api" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "scoring_api"
  entry_point           = "scoring_api"
  source_dir            = "${local.build}/scoring_api"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_scoring.email
  ingress               = "ALLOW_ALL"
  memory                = "1Gi"
  timeout_seconds       = 300
  environment           = local.common_env
  invoker_members       = [module.sa_gateway.member]
  labels                = local.labels
}

module "fn_scoring_events" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "scoring_events"
  entry_point           = "handle_ai_event"
  source_dir            = "${local.build}/scoring_events"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_scoring.email
  ingress               = "ALLOW_INTERNAL_ONLY"
  memory                = "1Gi"
  environment           = local.common_env
  invoker_members       = [module.sa_pubsub_push.member]
  labels                = local.labels
}

module "fn_scoring_jobs" {
  source                = "../cloud_function"
  project_id            = var.project_id
  region                = var.region
  name                  = "scoring_jobs"
  entry_point           = "scoring_jobs"
  source_dir            = "${local.build}/scoring_jobs"
  source_bucket         = google_storage_bucket.sources.name
  service_account_email = module.sa_scoring.email
  ingress               = "ALLOW_INTERNAL_ONLY"
  memory                = "2Gi"
  cpu                   = "2"
  timeout_seconds       = 1800
  concurrency           = 1
  environment = merge(local.common_env, local.llm_env, {
    SCHEDULER_SERVICE_ACCOUNT = module.sa_scheduler.email
  })
  secret_environment = local.llm_secrets
  invoker_members    = [module.sa_scheduler.member]
  labels             = local.labels
}

module "scheduler" {
  source                = "../scheduler"
  project_id            = var.project_id
  region                = var.region
  service_account_email = module.sa_scheduler.email
  jobs = {
    scoring-train-nightly = {
      schedule    = "0 2 * * *"
      uri         = module.fn_scoring_jobs.uri
      body        = { job = "train" }
      description = "Retrain every tenant's lead model; promote only better models"
    }
    scoring-batch-nightly = {
      schedule    = "30 3 * * *"
      uri         = module.fn_scoring_jobs.uri
      body        = { job = "batch_score", explain_top = 200 }
      description = "Score every tenant's open leads from BigQuery into BigQuery; explain the 200 best through a batch LLM job"
    }
    llm-batches-collect = {
      schedule    = "*/10 * * * *"
      uri         = module.fn_llm_batch_jobs.uri
      body        = { job = "collect" }
      description = "Collect finished LLM provider batches; run failed or late items online; settle costs"
    }
    insights-refresh-hourly = {
      schedule    = "45 * * * *"
      uri         = module.fn_insights_jobs.uri
      body        = { job = "refresh" }
      description = "Store insights refreshed by finished batches; submit stale and expiring ones as a batch LLM job"
    }
    embeddings-reembed = {
      schedule    = "*/30 * * * *"
      uri         = module.fn_insights_jobs.uri
      body        = { job = "reembed", max_seconds = 600 }
      description = "Re-embed chunks an earlier embedding model made (nothing to do unless the model changed)"
    }
    scoring-drift-hourly = {
      schedule    = "15 * * * *"
      uri         = module.fn_scoring_jobs.uri
      body        = { job = "drift", retrain_on_drift = true }
      description = "Check scoring drift and realised accuracy; retrain on drift"
    }
  }
}

# --- edge and operations -----------------------------------------------------------------------

module "api_gateway" {
  source       = "../api_gateway"
  project_id   = var.project_id
  region       = var.region
  api_id       = "crm-ai-${var.environment}"
  swagger_file = "${path.module}/../../../api/swagger2.json"
  backend_uris = {
    crm_api       = module.fn_crm_api.uri
    usage_api     = module.fn_usage_api.uri
    scoring_api   = module.fn_scoring_api.uri
    prompts_api   = module.fn_prompts_api.uri
    llm_batches   = module.fn_llm_batches.uri
    workflows_api = module.fn_workflows_api.uri
    insights_api  = module.fn_insights_api.uri
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
# (shared/realtime/intake.py), and nothing more: the subscription permissions hold only for
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
  project_roles = ["roles/logging.logWriter"]
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
  environment           = local.common_env
  labels                = local.labels
}
