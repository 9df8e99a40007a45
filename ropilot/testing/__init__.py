"""The connector conformance suite third-party connectors run (built by a later issue)."""
