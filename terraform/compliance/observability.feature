Feature: Someone hears about every alert (issue 17)

  Scenario: Every alert policy notifies a channel
    Given I have google_monitoring_alert_policy defined
    Then it must contain notification_channels

  Scenario: Every alert policy says what to do when it fires
    Given I have google_monitoring_alert_policy defined
    Then it must contain documentation

  Scenario: Every log-based metric has a filter
    Given I have google_logging_metric defined
    Then it must contain filter

  Scenario: Every dashboard is declared as JSON
    Given I have google_monitoring_dashboard defined
    Then it must contain dashboard_json
