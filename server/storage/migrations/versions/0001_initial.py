"""Initial schema: accounts, sessions, devices, threads, messages, outbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", Id, primary_key=True),
        sa.Column("phone", sa.String(32), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("phone_verified_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("user_agent", sa.String(255), nullable=False),
    )
    op.create_index("ix_sessions_account", "sessions", ["account_id"])
    op.create_table(
        "devices",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS),
        sa.Column("revoked_at", TS),
    )
    op.create_index("ix_devices_account", "devices", ["account_id"])
    op.create_table(
        "threads",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("peer", sa.String(32), nullable=False),
        sa.Column("last_activity", TS, nullable=False),
        sa.Column("last_message_id", sa.BigInteger),
        sa.Column("unread", sa.Integer, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("account_id", "peer", name="uq_threads_account_peer"),
    )
    op.create_index("ix_threads_account_seq", "threads", ["account_id", "seq"])
    op.create_table(
        "messages",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("thread_id", Id, sa.ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("peer", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.String(200)),
        sa.Column("timestamp", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("incomplete", sa.Boolean, nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="SET NULL")),
        sa.Column("device_key", sa.String(100)),
        sa.Column("client_msg_id", sa.String(64)),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("device_id", "device_key", name="uq_messages_device_key"),
        sa.UniqueConstraint("account_id", "client_msg_id", name="uq_messages_client_msg_id"),
    )
    op.create_index("ix_messages_account_seq", "messages", ["account_id", "seq"])
    op.create_index("ix_messages_thread_id", "messages", ["thread_id", "id"])
    op.create_table(
        "outbox",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "message_id", Id, sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("recipient", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="SET NULL")),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("dispatched_at", TS),
    )
    op.create_index("ix_outbox_account_state", "outbox", ["account_id", "state"])


def downgrade() -> None:
    for name in ("outbox", "messages", "threads", "devices", "sessions", "accounts"):
        op.drop_table(name)
