"""Consent and abuse: opt-outs, recorded consent, broadcasts, invite codes, terms.

See ``server/storage/schema.py`` for what each table means.

Revision ID: 0014_consent
Revises: 0013_privacy
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_consent"
down_revision = "0013_privacy"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _fk(table: str, ondelete: str = "CASCADE") -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "optouts",
        sa.Column("line_id", Id, _fk("lines"), primary_key=True),
        sa.Column("peer", sa.String(32), primary_key=True),
        sa.Column("account_id", Id, _fk("accounts"), nullable=False),
        sa.Column("opted_out", sa.Boolean, nullable=False),
        sa.Column("keyword", sa.String(32), nullable=False),
        sa.Column("changed_at", When, nullable=False),
        sa.Column("recorded_at", When, nullable=False),
    )
    op.create_index("ix_optouts_account", "optouts", ["account_id"])
    op.create_table(
        "recipient_consents",
        sa.Column("id", Id, primary_key=True),
        sa.Column("account_id", Id, _fk("accounts"), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("given_at", When, nullable=False),
        sa.Column("recorded_at", When, nullable=False),
        sa.Column("note", sa.String(200), nullable=False, server_default=""),
        sa.UniqueConstraint("account_id", "number", name="uq_recipient_consents_number"),
    )
    op.create_table(
        "broadcasts",
        sa.Column("id", Id, primary_key=True),
        sa.Column("account_id", Id, _fk("accounts"), nullable=False),
        sa.Column("line_id", Id, _fk("lines"), nullable=False),
        sa.Column("body_sealed", sa.LargeBinary, nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("cancelled_at", When),
        sa.UniqueConstraint("account_id", "client_id", name="uq_broadcasts_client_id"),
    )
    op.create_table(
        "broadcast_recipients",
        sa.Column("id", Id, primary_key=True),
        sa.Column("broadcast_id", Id, _fk("broadcasts"), nullable=False),
        sa.Column("line_id", Id, _fk("lines"), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("due_at", When, nullable=False),
        sa.Column("message_id", Id, _fk("messages", "SET NULL")),
        sa.UniqueConstraint("broadcast_id", "number", name="uq_broadcast_recipients_number"),
    )
    op.create_index("ix_broadcast_recipients_due", "broadcast_recipients", ["state", "due_at"])
    op.create_index(
        "ix_broadcast_recipients_line_due", "broadcast_recipients", ["line_id", "due_at"]
    )
    op.create_table(
        "invite_codes",
        sa.Column("id", Id, primary_key=True),
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("prefix", sa.String(8), nullable=False),
        sa.Column("note", sa.String(100), nullable=False, server_default=""),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("used_at", When),
        sa.Column("used_by", Id, _fk("accounts", "SET NULL")),
        sa.Column("revoked_at", When),
    )
    op.create_table(
        "verify_sends",
        sa.Column("id", Id, primary_key=True),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_verify_sends_at", "verify_sends", ["at"])
    op.create_table(
        "terms_acceptances",
        sa.Column("id", Id, primary_key=True),
        sa.Column("account_id", Id, _fk("accounts"), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("accepted_at", When, nullable=False),
    )
    op.create_index("ix_terms_acceptances_account", "terms_acceptances", ["account_id", "id"])


def downgrade() -> None:
    for table in (
        "terms_acceptances",
        "verify_sends",
        "invite_codes",
        "broadcast_recipients",
        "broadcasts",
        "recipient_consents",
        "optouts",
    ):
        op.drop_table(table)
