-- LLM cost and tokens per tenant by day, feature and model, over the llm_usage table (one row per
-- call, written by the llm-usage topic's BigQuery subscription). ${source} is that table.
SELECT
  DATE(at) AS day,
  tenant_id,
  feature,
  model,
  COUNT(*) AS calls,
  COUNTIF(cache_hit) AS cache_hits,
  SUM(input_tokens) AS input_tokens,
  SUM(output_tokens) AS output_tokens,
  ROUND(SUM(cost_usd), 6) AS cost_usd
FROM `${source}`
GROUP BY day, tenant_id, feature, model
