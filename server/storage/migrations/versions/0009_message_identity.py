"""A message's identity belongs to the account and line, not to a device row; line leases.

* ``messages``: the bridge's key is unique per (account, key, line) instead of per
  device, so pairing again, replacing a bridge or restoring a backup never stores an SMS
  twice. Copies stored twice before (a re-paired bridge's repair) become tombstones with
  a new seq, so browsers drop them too; the oldest copy the user did not delete stays.
* ``messages.refused``: a placeholder for an uploaded item the server could not store
  (the reason code); ``messages.error_detail``: the technical words behind ``error``.
* ``line_leases``: which device sends for a line (one at a time, until ``expires_at``).

Revision ID: 0009_message_identity
Revises: 0008_cursor_epoch
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0009_message_identity"
down_revision = "0008_cursor_epoch"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    _tombstone_copies(op.get_bind())
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("refused", sa.String(32)))
        batch.add_column(sa.Column("error_detail", sa.String(500)))
        batch.drop_constraint("uq_messages_device_key", type_="unique")
        batch.create_unique_constraint(
            "uq_messages_line_key", ["account_id", "device_key", "line_id"]
        )
    op.create_table(
        "line_leases",
        sa.Column("line_id", Id, sa.ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
        sa.Column("acquired_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )


def _tombstone_copies(bind: sa.engine.Connection) -> None:
    """Every second copy of an inbound SMS (same account, line and key) becomes a
    tombstone, with the account's next seqs so the deletion reaches browsers. The copy
    kept is the oldest one the user has not deleted (the oldest, if all are deleted)."""
    copies = bind.execute(
        sa.text(
            "SELECT m.id, m.account_id, m.thread_id, m.deleted, keep.keep_id FROM messages m"
            " JOIN (SELECT account_id, line_id, device_key, coalesce(min(CASE WHEN deleted"
            " THEN NULL ELSE id END), min(id)) AS keep_id FROM messages"
            " WHERE device_key IS NOT NULL GROUP BY account_id, line_id, device_key"
            " HAVING count(*) > 1) keep ON keep.account_id = m.account_id"
            " AND keep.line_id = m.line_id AND keep.device_key = m.device_key"
            " WHERE m.id != keep.keep_id ORDER BY m.id"
        )
    ).all()
    by_account: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for message_id, account_id, thread_id, deleted, keep_id in copies:
        if deleted:
            # Already a tombstone: it only gives up the key.
            bind.execute(
                sa.text("UPDATE messages SET device_key = NULL WHERE id = :m"), {"m": message_id}
            )
        else:
            by_account[account_id].append((message_id, thread_id, keep_id))
    for account_id, rows in by_account.items():
        top = bind.execute(
            sa.text("UPDATE accounts SET seq = seq + :n WHERE id = :a RETURNING seq"),
            {"n": len(rows), "a": account_id},
        ).scalar_one()
        seq = int(top) - len(rows)
        for message_id, thread_id, keep_id in rows:
            seq += 1
            bind.execute(
                sa.text(
                    "UPDATE messages SET deleted = :t, body = NULL, body_sealed = NULL,"
                    " device_key = NULL, seq = :s WHERE id = :m"
                ),
                {"t": True, "s": seq, "m": message_id},
            )
            bind.execute(
                sa.text("DELETE FROM attachments WHERE message_id = :m"), {"m": message_id}
            )
            bind.execute(
                sa.text(
                    "UPDATE threads SET last_message_id = :f, seq = :s"
                    " WHERE id = :t AND last_message_id = :m"
                ),
                {"f": keep_id, "s": seq, "t": thread_id, "m": message_id},
            )


def downgrade() -> None:
    op.drop_table("line_leases")
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_line_key", type_="unique")
        batch.create_unique_constraint("uq_messages_device_key", ["device_id", "device_key"])
        batch.drop_column("error_detail")
        batch.drop_column("refused")
