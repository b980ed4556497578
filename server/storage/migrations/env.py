"""Alembic environment: runs on the connection the server hands in (see engine.migrate)."""

from __future__ import annotations

from alembic import context

from server.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the server always passes its connection
    raise RuntimeError("run migrations through server.storage.engine.migrate()")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
