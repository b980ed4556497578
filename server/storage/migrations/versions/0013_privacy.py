"""Privacy: account deletion, permanent masking, retention, audited staff access.

* ``accounts.deleted_at``: the account was deleted (its data key is gone already; a
  background job purges its rows). ``mask_sent``: mask every sent SMS once the phone
  reports it sent. ``retention_days``: delete messages older than this (NULL: keep).
  ``troubleshoot_until``: operators may read message contents until then.
* ``messages.masked``: the content was destroyed for good; shown as ``*****``.
* ``staff_access``: every look of an operator into an account, append-only and
  hash-chained (each row's hash covers the previous row's). Triggers refuse UPDATE and
  DELETE; ``ferry admin audit verify`` finds rows changed behind their back.

Revision ID: 0013_privacy
Revises: 0012_exports
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_privacy"
down_revision = "0012_exports"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_PG_FUNCTION = """
CREATE FUNCTION staff_access_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'staff_access is append-only';
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("mask_sent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("troubleshoot_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("masked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "staff_access",
        sa.Column("id", Id, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.UniqueConstraint("prev_hash", name="uq_staff_access_prev_hash"),
    )
    op.create_index("ix_staff_access_account", "staff_access", ["account_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER staff_access_append_only BEFORE UPDATE OR DELETE ON staff_access "
            "FOR EACH ROW EXECUTE FUNCTION staff_access_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER staff_access_no_{verb.lower()} BEFORE {verb} ON staff_access "
                "BEGIN SELECT RAISE(ABORT, 'staff_access is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER staff_access_append_only ON staff_access")
        op.execute("DROP FUNCTION staff_access_append_only()")
    op.drop_index("ix_staff_access_account", "staff_access")
    op.drop_table("staff_access")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("masked")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("troubleshoot_until")
        batch.drop_column("retention_days")
        batch.drop_column("mask_sent")
        batch.drop_column("deleted_at")
