# Run by cloudbuild.yaml against the real plan: terraform-compliance -p plan.json -f terraform/compliance
Feature: The platform is provisioned safely

  Scenario: Functions run as their own service account
    Given I have google_cloudfunctions2_function defined
    Then it must contain service_config
    And it must contain service_account_email

  Scenario: Function sources are never public
    Given I have google_storage_bucket defined
    Then it must contain public_access_prevention
    And its value must be enforced

  Scenario: Buckets use uniform bucket-level access
    Given I have google_storage_bucket defined
    Then it must contain uniform_bucket_level_access
    And its value must be true

  Scenario: No unit is granted a primitive role
    Given I have google_project_iam_member defined
    Then it must contain role
    And its value must not match the "roles/(owner|editor)" regex

  Scenario: Push subscriptions authenticate to their endpoint
    Given I have google_pubsub_subscription defined
    When it contains push_config
    Then it must contain oidc_token
