"""KPIs computed as aggregate queries in the database (SQLAlchemy Core), SQLite and PostgreSQL."""
