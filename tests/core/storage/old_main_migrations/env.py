"""Alembic environment for a frozen copy of main's revisions as they were before every slice kept its
own (commit b3c49d2). It builds the database an existing install has, so the upgrade test starts from
exactly that; the copies must never change.

The old environment handed Alembic the models' metadata, whose naming convention renames the
constraints the revisions create (the check ``ck_economy_accounts_owner`` is stored as
``ck_economy_accounts_ck_economy_accounts_owner``), so the convention is frozen here too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=MetaData(naming_convention=NAMING),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
