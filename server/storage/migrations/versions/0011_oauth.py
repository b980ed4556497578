"""Third-party clients by consent (OAuth 2): signing keys, clients and their redirect
URIs, authorization requests, grants, codes, refresh tokens, socket tickets and the
per-grant access log. New tables only.

Revision ID: 0011_oauth
Revises: 0010_pairing_line
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_oauth"
down_revision = "0010_pairing_line"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _fk(table: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "oauth_keys",
        sa.Column("kid", sa.String(32), primary_key=True),
        sa.Column("private_sealed", sa.LargeBinary, nullable=False),
        sa.Column("public_raw", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("retired_at", When),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("id", Id, primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False, unique=True),
        sa.Column("account_id", Id, _fk("accounts")),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("logo_uri", sa.String(500)),
        sa.Column("secret_hash", sa.LargeBinary(32)),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_index("ix_oauth_clients_account", "oauth_clients", ["account_id"])
    op.create_table(
        "oauth_redirects",
        sa.Column("client_pk", Id, _fk("oauth_clients"), primary_key=True),
        sa.Column("uri", sa.String(500), primary_key=True),
        sa.Column("origin", sa.String(300), nullable=False),
    )
    op.create_index("ix_oauth_redirects_origin", "oauth_redirects", ["origin"])
    op.create_table(
        "oauth_requests",
        sa.Column("id_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("client_pk", Id, _fk("oauth_clients"), nullable=False),
        sa.Column("redirect_uri", sa.String(500), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("state", sa.String(500)),
        sa.Column("challenge", sa.String(128), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("used_at", When),
    )
    op.create_table(
        "oauth_grants",
        sa.Column("id", Id, primary_key=True),
        sa.Column("account_id", Id, _fk("accounts"), nullable=False),
        sa.Column("client_pk", Id, _fk("oauth_clients"), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("threads", sa.Text),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When),
        sa.Column("revoked_at", When),
        sa.Column("last_used_at", When),
    )
    op.create_index("ix_oauth_grants_account", "oauth_grants", ["account_id"])
    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("grant_id", Id, _fk("oauth_grants"), nullable=False),
        sa.Column("redirect_uri", sa.String(500), nullable=False),
        sa.Column("challenge", sa.String(128), nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("used_at", When),
    )
    op.create_table(
        "oauth_refresh",
        sa.Column("token_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("grant_id", Id, _fk("oauth_grants"), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("used_at", When),
    )
    op.create_index("ix_oauth_refresh_grant", "oauth_refresh", ["grant_id"])
    op.create_table(
        "oauth_tickets",
        sa.Column("ticket_hash", sa.LargeBinary(32), primary_key=True),
        sa.Column("grant_id", Id, _fk("oauth_grants"), nullable=False),
        sa.Column("expires_at", When, nullable=False),
    )
    op.create_table(
        "oauth_log",
        sa.Column("id", Id, primary_key=True),
        sa.Column("grant_id", Id, _fk("oauth_grants"), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("action", sa.String(120), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
    )
    op.create_index("ix_oauth_log_grant", "oauth_log", ["grant_id", "id"])


def downgrade() -> None:
    for table in (
        "oauth_log",
        "oauth_tickets",
        "oauth_refresh",
        "oauth_codes",
        "oauth_grants",
        "oauth_requests",
        "oauth_redirects",
        "oauth_clients",
        "oauth_keys",
    ):
        op.drop_table(table)
