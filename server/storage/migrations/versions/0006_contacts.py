"""Contacts synced from the phone or SIM, per line.

Revision ID: 0006_contacts
Revises: 0005_sync
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_contacts"
down_revision = "0005_sync"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("line_id", Id, sa.ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("line_id", "number", name="uq_contacts_line_number"),
    )
    op.create_index("ix_contacts_account_number", "contacts", ["account_id", "number"])


def downgrade() -> None:
    op.drop_table("contacts")
