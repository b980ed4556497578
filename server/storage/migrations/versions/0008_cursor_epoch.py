"""Cursor epochs, seq marks for tombstone compaction, node marks for restore detection.

* ``accounts.epoch``: the epoch browsers keep with their cursor; existing accounts get a
  random one here, new accounts get one when created.
* ``seq_marks``: an account's seq at a time, so tombstones older than the retention age
  are found by seq.
* ``node_marks``: each server node's latest mark (also kept in its data directory).
* indexes on ``outbox.message_id`` and ``conflicts.message_id``: purging a message
  cascades to both, a table scan each without them.

Revision ID: 0008_cursor_epoch
Revises: 0007_attachments
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0008_cursor_epoch"
down_revision = "0007_attachments"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("epoch", sa.String(32), nullable=False, server_default=""))
    bind = op.get_bind()
    accounts = sa.table("accounts", sa.column("id", Id), sa.column("epoch", sa.String(32)))
    ids = [row[0] for row in bind.execute(sa.select(accounts.c.id))]
    for account_id in ids:
        bind.execute(
            accounts.update().where(accounts.c.id == account_id).values(epoch=secrets.token_hex(8))
        )
    op.create_table(
        "seq_marks",
        sa.Column(
            "account_id",
            Id,
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_outbox_message", "outbox", ["message_id"])
    op.create_index("ix_conflicts_message", "conflicts", ["message_id"])
    op.create_table(
        "node_marks",
        sa.Column("node", sa.String(32), primary_key=True),
        sa.Column("mark", sa.String(32), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("node_marks")
    op.drop_table("seq_marks")
    op.drop_index("ix_conflicts_message", "conflicts")
    op.drop_index("ix_outbox_message", "outbox")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("epoch")
