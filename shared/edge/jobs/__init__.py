"""Cloud Scheduler targets: each validates its job body and runs it tenant by tenant on the process's services."""
