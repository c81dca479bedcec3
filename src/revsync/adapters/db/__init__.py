"""SQLAlchemy 2 Core storage for SQLite (embedded default) and PostgreSQL."""
