"""The shared core every function and service of the CRM AI engine imports."""
