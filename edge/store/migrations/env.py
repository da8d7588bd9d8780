"""Alembic runs this with the connection that `edge.store.database.migrate` hands it."""

from alembic import context

from edge.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
