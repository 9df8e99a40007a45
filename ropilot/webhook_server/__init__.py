"""The Flask app that receives CRM webhooks (built by a later issue)."""
