"""Lines (an account's phone numbers / SIMs), which bridge serves which line, and
threads keyed by line + normalised participants.

Revision ID: 0003_lines
Revises: 0002_accounts_security
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_lines"
down_revision = "0002_accounts_security"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lines",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("label", sa.String(50), nullable=False, server_default=""),
        sa.Column("verified_at", TS),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_lines_account", "lines", ["account_id"])
    op.create_table(
        "device_lines",
        sa.Column(
            "device_id", Id, sa.ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("line_id", Id, sa.ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True),
    )
    # Every existing account's own number becomes its first line, verified as it was.
    op.execute(
        "INSERT INTO lines (account_id, number, label, verified_at, created_at) "
        "SELECT id, phone, '', phone_verified_at, created_at FROM accounts"
    )
    op.execute(
        "INSERT INTO device_lines (device_id, line_id) "
        "SELECT devices.id, lines.id FROM devices "
        "JOIN lines ON lines.account_id = devices.account_id"
    )
    with op.batch_alter_table("threads") as batch:
        batch.add_column(
            sa.Column(
                "line_id", Id, sa.ForeignKey("lines.id", ondelete="CASCADE", name="fk_threads_line")
            )
        )
        batch.add_column(sa.Column("participants", sa.String(200)))
        batch.drop_constraint("uq_threads_account_peer", type_="unique")
    op.execute(
        "UPDATE threads SET participants = peer, line_id = "
        "(SELECT id FROM lines WHERE lines.account_id = threads.account_id)"
    )
    with op.batch_alter_table("threads") as batch:
        batch.alter_column("line_id", nullable=False)
        batch.alter_column("participants", nullable=False)
        batch.create_unique_constraint(
            "uq_threads_line_participants", ["account_id", "line_id", "participants"]
        )
    for table in ("messages", "outbox"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column(
                    "line_id",
                    Id,
                    sa.ForeignKey("lines.id", ondelete="CASCADE", name=f"fk_{table}_line"),
                )
            )
        op.execute(
            f"UPDATE {table} SET line_id = "  # noqa: S608 - fixed table names
            f"(SELECT id FROM lines WHERE lines.account_id = {table}.account_id)"
        )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("line_id", nullable=False)


def downgrade() -> None:
    for table in ("outbox", "messages"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("line_id")
    with op.batch_alter_table("threads") as batch:
        batch.drop_constraint("uq_threads_line_participants", type_="unique")
        batch.drop_column("participants")
        batch.drop_column("line_id")
        batch.create_unique_constraint("uq_threads_account_peer", ["account_id", "peer"])
    op.drop_table("device_lines")
    op.drop_table("lines")
