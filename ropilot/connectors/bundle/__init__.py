"""Account bundles (CSV folder, zip, XLSX): the connector for CRMs without an API."""
