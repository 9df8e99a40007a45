"""amoCRM (Kommo) API v4 connector, its webhooks and its offline sandbox."""
