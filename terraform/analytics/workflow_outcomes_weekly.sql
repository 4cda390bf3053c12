-- Workflow outcomes by type and ISO week (weeks start on Monday), from the workflow_outcome log
-- lines the analytics sink routes to BigQuery. in_time counts first stops within the deadline.
SELECT
  -- The Monday of the week (DAYOFWEEK: Sunday 1 .. Saturday 7); the same as
  -- DATE_TRUNC(..., ISOWEEK), written so that the BigQuery emulator runs it too.
  DATE_SUB(DATE(timestamp), INTERVAL MOD(EXTRACT(DAYOFWEEK FROM DATE(timestamp)) + 5, 7) DAY) AS week,
  jsonPayload.workflow_type AS workflow_type,
  jsonPayload.outcome AS outcome,
  COUNT(*) AS runs,
  COUNTIF(jsonPayload.in_time = 'true') AS in_time,
  COUNTIF(jsonPayload.in_time = 'false') AS late,
  ROUND(AVG(CAST(jsonPayload.duration_ms AS FLOAT64)), 1) AS avg_duration_ms
FROM `${source}`
WHERE jsonPayload.metric = 'workflow_outcome'
GROUP BY week, workflow_type, outcome
