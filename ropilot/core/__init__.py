"""The CRM-agnostic domain model, store and engine; imports nothing else of ropilot."""
