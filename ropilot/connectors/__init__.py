"""Connectors: one package per CRM, plus account bundles for CRMs without an API."""
