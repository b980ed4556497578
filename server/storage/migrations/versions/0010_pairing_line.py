"""A pairing code names the line its bridge will serve (several phones on one account).

``pairing_codes.line_id``: the line (SIM number) the bridge paired with the code serves;
NULL for codes made before, which keep their meaning (every line of the account).

Revision ID: 0010_pairing_line
Revises: 0009_message_identity
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_pairing_line"
down_revision = "0009_message_identity"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("pairing_codes") as batch:
        batch.add_column(sa.Column("line_id", Id, nullable=True))
        batch.create_foreign_key(
            "fk_pairing_codes_line", "lines", ["line_id"], ["id"], ondelete="CASCADE"
        )


def downgrade() -> None:
    with op.batch_alter_table("pairing_codes") as batch:
        batch.drop_constraint("fk_pairing_codes_line", type_="foreignkey")
        batch.drop_column("line_id")
