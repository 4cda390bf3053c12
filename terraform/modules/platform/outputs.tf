output "gateway_hostname" { value = module.api_gateway.hostname }
output "openapi" { value = module.api_gateway.openapi }
output "function_uris" {
  value = { for name, _ in local.functions : name => module.fn[name].uri }
}
# The deterministic URLs the platform targets (push, tasks, scheduler) and tokens are minted for.
output "function_urls" { value = local.function_urls }
output "realtime_uri" { value = module.run_realtime.uri }
