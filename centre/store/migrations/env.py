"""Alembic runs this with the connection that `centre.store.database.migrate` hands it."""

from alembic import context

from centre.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="centre_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()
