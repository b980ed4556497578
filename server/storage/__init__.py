"""Server storage: SQLAlchemy 2 async, one module per domain, Alembic migrations."""
