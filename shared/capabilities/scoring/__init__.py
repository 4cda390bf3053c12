"""Lead scoring: per-tenant calibrated, explainable models (see ``training`` and ``model``)."""
