"""Encryption at rest, tombstones, archive, conflicts.

* ``accounts.data_key``: the account's wrapped data key (see ``server/storage/sealed.py``).
* ``messages.body_sealed`` replaces ``messages.body``; existing plaintext bodies are sealed
  by the server at start-up (a migration has no master key), then cleared.
* ``messages.deleted`` / ``threads.deleted``: tombstones, so deletions propagate by seq.
* ``threads.archived``; ``accounts.min_seq``: cursors older than it must resync.
* ``conflicts``: same device key, different content — recorded, never overwritten.
* ``devices.acked_n``: the highest upload position acknowledged to the bridge; a bridge
  that acknowledged more than the server remembers (a restored backup) sends a repair.

Revision ID: 0005_sync
Revises: 0004_pairing
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_sync"
down_revision = "0004_pairing"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("data_key", sa.LargeBinary))
        batch.add_column(sa.Column("min_seq", sa.BigInteger, nullable=False, server_default="0"))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("body_sealed", sa.LargeBinary))
        batch.add_column(
            sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.alter_column("body", existing_type=sa.Text, nullable=True)
    with op.batch_alter_table("threads") as batch:
        batch.add_column(
            sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("acked_n", sa.BigInteger, nullable=False, server_default="0"))
    op.create_table(
        "conflicts",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("device_key", sa.String(100), nullable=False),
        sa.Column("message_id", Id, sa.ForeignKey("messages.id", ondelete="CASCADE")),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_conflicts_account", "conflicts", ["account_id"])


def downgrade() -> None:
    op.drop_table("conflicts")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("acked_n")
    with op.batch_alter_table("threads") as batch:
        batch.drop_column("deleted")
        batch.drop_column("archived")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("deleted")
        batch.drop_column("body_sealed")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("min_seq")
        batch.drop_column("data_key")
