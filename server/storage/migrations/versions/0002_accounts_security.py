"""Accounts and security: profile fields, session IP, verification codes, security events,
access log, gateway messages.

Revision ID: 0002_accounts_security
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_accounts_security"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _account_fk() -> sa.Column:
    return sa.Column(
        "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.add_column("accounts", sa.Column("email", sa.String(254)))
    op.add_column("accounts", sa.Column("display_name", sa.String(100)))
    op.add_column("sessions", sa.Column("ip", sa.String(64)))
    op.create_table(
        "verification_codes",
        sa.Column("id", Id, primary_key=True),
        _account_fk(),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.UniqueConstraint("account_id", "purpose", name="uq_verification_codes_account_purpose"),
    )
    op.create_table(
        "security_events",
        sa.Column("id", Id, primary_key=True),
        _account_fk(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(255)),
    )
    op.create_index("ix_security_events_account", "security_events", ["account_id", "id"])
    op.create_table(
        "access_log",
        sa.Column("id", Id, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(255)),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"])
    op.create_table(
        "gateway_messages",
        sa.Column("id", Id, primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="SET NULL")),
        sa.Column("recipient", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for name in ("gateway_messages", "access_log", "security_events", "verification_codes"):
        op.drop_table(name)
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("ip")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("display_name")
        batch.drop_column("email")
