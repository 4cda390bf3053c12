Feature: Work is never silently lost

  Scenario: Push subscriptions have a dead-letter policy
    Given I have google_pubsub_subscription defined
    When it contains push_config
    Then it must contain dead_letter_policy

  Scenario: Task queues retry with a bound
    Given I have google_cloud_tasks_queue defined
    Then it must contain retry_config
    And it must contain max_attempts

  Scenario: Resources are labelled
    Given I have google_pubsub_topic defined
    Then it must contain labels
