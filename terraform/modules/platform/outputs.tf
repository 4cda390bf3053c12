output "gateway_hostname" { value = module.api_gateway.hostname }
output "openapi" { value = module.api_gateway.openapi }
output "function_uris" {
  value = {
    crm_events      = module.fn_crm_events.uri
    crm_api         = module.fn_crm_api.uri
    usage_api       = module.fn_usage_api.uri
    scoring_api     = module.fn_scoring_api.uri
    scoring_events  = module.fn_scoring_events.uri
    scoring_jobs    = module.fn_scoring_jobs.uri
    prompts_api     = module.fn_prompts_api.uri
    llm_batches     = module.fn_llm_batches.uri
    llm_batch_jobs  = module.fn_llm_batch_jobs.uri
    workflows_api   = module.fn_workflows_api.uri
    workflow_runner = module.fn_workflow_runner.uri
    workflow_events = module.fn_workflow_events.uri
    insights_api    = module.fn_insights_api.uri
    insights_events = module.fn_insights_events.uri
    insights_jobs   = module.fn_insights_jobs.uri
  }
}
output "realtime_uri" { value = module.run_realtime.uri }
