"""Pairing: devices are identified by their static public key; one-time pairing codes.

The shared-secret credential is gone with no fallback: bridges registered before this
migration have no key, so they are revoked here and must be paired again.

Revision ID: 0004_pairing
Revises: 0003_lines
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_pairing"
down_revision = "0003_lines"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("public_key", sa.LargeBinary(32)))
        batch.create_unique_constraint("uq_devices_public_key", ["public_key"])
        batch.drop_column("secret_hash")
    op.execute("UPDATE devices SET revoked_at = created_at WHERE revoked_at IS NULL")
    op.create_table(
        "pairing_codes",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("selector", sa.String(2), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(32), nullable=False, unique=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("device_id", Id, sa.ForeignKey("devices.id", ondelete="SET NULL")),
    )
    op.create_index("ix_pairing_codes_selector", "pairing_codes", ["selector"])
    op.create_index(
        "ix_pairing_codes_account_created", "pairing_codes", ["account_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("pairing_codes")
    with op.batch_alter_table("devices") as batch:
        batch.add_column(
            # Keys cannot become secrets again: the devices stay revoked.
            sa.Column("secret_hash", sa.LargeBinary(32), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_devices_public_key", type_="unique")
        batch.drop_column("public_key")
