"""Table definitions (SQLAlchemy Core).

Core rather than the ORM: inserts batch properly on SQLite, and every store method is one
explicit, named transaction. The Alembic migrations under ``migrations/versions`` are the
source of truth for the database; this module must describe the same tables.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zone type and hands back naive values; normalising here keeps
    naive datetimes out of the rest of the server.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # The same text SQLite's DATETIME type stores ("2026-11-25 12:00:00.000000"), in
        # one step: the generic chain of two converters showed up in batch ingests.
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the database")
            if value.tzinfo is not UTC:  # most times arrive in UTC already
                value = value.astimezone(UTC)
            # "2026-11-25 12:00:00.000000+00:00" without its offset.
            return value.isoformat(" ", "microseconds")[:26]

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class NulFree(TypeDecorator[str]):
    """Text as given; on PostgreSQL, which cannot store a NUL character in text, each NUL
    becomes U+FFFD (as the bridge journal does with a lone surrogate). A bridge's key or
    phonebook name, a user agent or a typed code with one is stored, or looked up, with
    the same replacement every time, instead of failing its whole transaction (code that
    compares stored text with input in Python applies :func:`nul_free` to the input).
    SQLite keeps the text exactly, at no cost per value."""

    impl = String
    cache_ok = True

    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "postgresql":
            return self.impl_instance.bind_processor(dialect)

        def process(value: str | None) -> str | None:
            return None if value is None else nul_free(value)

        return process


def nul_free(text: str) -> str:
    """``text`` as PostgreSQL stores it (see :class:`NulFree`): for code that matches
    stored text with what it was given, in Python."""
    return text.replace("\0", "\ufffd") if "\0" in text else text


# SQLite only gives AUTOINCREMENT-like rowids to INTEGER PRIMARY KEY; BigInteger elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")


def new_epoch() -> str:
    """A fresh cursor epoch: 64 random bits, as 16 hex digits."""
    return secrets.token_hex(8)


accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("phone", NulFree(32), nullable=False, unique=True),
    Column("password_hash", NulFree(255), nullable=False),
    Column("phone_verified_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    # Last per-account change sequence number handed out; bumped in the same transaction
    # as every mutation of the account's data.
    Column("seq", BigInteger, nullable=False, default=0),
    # The account's data key, wrapped by the master key (see sealed.py).
    Column("data_key", LargeBinary),
    # Cursors below this cannot be resumed (tombstones before it were pruned): resync.
    Column("min_seq", BigInteger, nullable=False, server_default="0"),
    Column("email", NulFree(254)),
    Column("display_name", NulFree(100)),
    # The epoch of the account's change history: browsers keep it with their cursor, and
    # a cursor of another epoch gets resync. A new, random one whenever the history may
    # have been rewound (a restored backup, a bridge's repair): see storage/epochs.py.
    Column("epoch", NulFree(32), nullable=False, default=new_epoch, server_default=""),
    # Privacy (storage/privacy.py). Deleted: the data key is gone already and the phone
    # number free again; a background job purges the rows (storage/erasure.py).
    Column("deleted_at", UtcDateTime()),
    # Mask every sent SMS once the phone reports it sent (storage/masking.py).
    Column("mask_sent", Boolean, nullable=False, server_default=false()),
    # Messages older than this many days are deleted (NULL: kept until deleted).
    Column("retention_days", Integer),
    # Until then operators may read message contents (``ferry admin messages``).
    Column("troubleshoot_until", UtcDateTime()),
)

sessions = Table(
    "sessions",
    metadata,
    # SHA-256 of the cookie value: a leaked database does not yield live cookies.
    Column("id_hash", LargeBinary(32), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("user_agent", NulFree(255), nullable=False, default=""),
    Column("ip", NulFree(64)),
    Index("ix_sessions_account", "account_id"),
)

lines = Table(
    "lines",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    # E.164; a number belongs to one account at most.
    Column("number", NulFree(32), nullable=False, unique=True),
    Column("label", NulFree(50), nullable=False, server_default=""),
    # Conversations of a line are served only once its number is verified.
    Column("verified_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_lines_account", "account_id"),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("name", NulFree(100), nullable=False),
    # The bridge's static X25519 key, learnt in the Noise handshake when it paired. Unique
    # and kept after revocation, so a revoked key can never be registered again. NULL only
    # for bridges paired before keys existed (migration 0004 revoked them).
    Column("public_key", LargeBinary(32)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
    # Highest upload position acknowledged to this bridge (see the repair in Welcome).
    Column("acked_n", BigInteger, nullable=False, server_default="0"),
    UniqueConstraint("public_key", name="uq_devices_public_key"),
    Index("ix_devices_account", "account_id"),
)

pairing_codes = Table(
    "pairing_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    # The code's first two characters, in clear: a wrong attempt counts against the live
    # codes that share them, so a code dies after a few wrong tries.
    Column("selector", NulFree(2), nullable=False),
    # SHA-256 of the whole one-time code.
    Column("code_hash", LargeBinary(32), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
    Column("failures", Integer, nullable=False, default=0),
    Column("device_id", ForeignKey("devices.id", ondelete="SET NULL")),
    # The line (SIM number) the paired bridge will serve; NULL (codes from before
    # migration 0010): every line the account has when it pairs.
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE")),
    Index("ix_pairing_codes_selector", "selector"),
    Index("ix_pairing_codes_account_created", "account_id", "created_at"),
)

device_lines = Table(
    "device_lines",
    metadata,
    Column("device_id", ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True),
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True),
)

threads = Table(
    "threads",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
    Column("peer", NulFree(32), nullable=False),
    # The normalised, sorted set of other participants: the thread's identity on a line.
    Column("participants", NulFree(200), nullable=False),
    Column("last_activity", UtcDateTime(), nullable=False),
    Column("last_message_id", BigInteger),
    Column("unread", Integer, nullable=False, default=0),
    Column("archived", Boolean, nullable=False, server_default=false()),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("seq", BigInteger, nullable=False),
    UniqueConstraint("account_id", "line_id", "participants", name="uq_threads_line_participants"),
    Index("ix_threads_account_seq", "account_id", "seq"),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("thread_id", ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
    Column("direction", NulFree(3), nullable=False),
    Column("peer", NulFree(32), nullable=False),
    # Plaintext only in databases from before encryption at rest; sealed at start-up.
    Column("body", Text),
    Column("body_sealed", LargeBinary),
    Column("deleted", Boolean, nullable=False, server_default=false()),
    Column("status", NulFree(16), nullable=False),
    Column("error", NulFree(200)),
    Column("timestamp", UtcDateTime(), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("incomplete", Boolean, nullable=False, default=False),
    # Idempotency: the bridge's key for inbound SMS (unique per account and line, whichever
    # device uploaded it: re-pairing or replacing a bridge never stores an SMS twice), the
    # browser's id for sends.
    Column("device_id", ForeignKey("devices.id", ondelete="SET NULL")),
    Column("device_key", NulFree(100)),
    Column("client_msg_id", NulFree(64)),
    Column("seq", BigInteger, nullable=False),
    # A placeholder for an uploaded item the server could not store: the reason code.
    Column("refused", NulFree(32)),
    # The technical words behind ``error`` (a modem's answer), shown on request.
    Column("error_detail", NulFree(500)),
    # Masked for good: the sealed body and attachments are destroyed; shown as "*****".
    Column("masked", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("account_id", "device_key", "line_id", name="uq_messages_line_key"),
    UniqueConstraint("account_id", "client_msg_id", name="uq_messages_client_msg_id"),
    Index("ix_messages_account_seq", "account_id", "seq"),
    Index("ix_messages_thread_id", "thread_id", "id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
    Column("recipient", NulFree(32), nullable=False),
    # pending: not yet taken by a bridge; dispatched: handed to a bridge (it journals by
    # outbox id, so re-dispatch after a reconnect cannot send twice); done: final status.
    Column("state", NulFree(16), nullable=False),
    Column("device_id", ForeignKey("devices.id", ondelete="SET NULL")),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("dispatched_at", UtcDateTime()),
    Index("ix_outbox_account_state", "account_id", "state"),
    # Deleting a message (tombstone compaction) cascades here: without it, a scan each.
    Index("ix_outbox_message", "message_id"),
)

# One sender per line: the device holding a line's lease is the only one offered its
# outgoing messages, until it lets go or the lease expires (its holder vanished).
line_leases = Table(
    "line_leases",
    metadata,
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True),
    Column("device_id", ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("acquired_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("device_id", ForeignKey("devices.id", ondelete="CASCADE"), nullable=False),
    Column("device_key", NulFree(100), nullable=False),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE")),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_conflicts_account", "account_id"),
    Index("ix_conflicts_message", "message_id"),
)

verification_codes = Table(
    "verification_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    # verify (the account's number), change_phone (a new number), reset (password reset)
    Column("purpose", NulFree(16), nullable=False),
    # The number the code was sent to; only that number's owner can know the code.
    Column("phone", NulFree(32), nullable=False),
    # HMAC-SHA256 under the server's code key over purpose, number and code.
    Column("code_hash", LargeBinary(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # One live code per account and purpose: issuing a new one replaces the old.
    UniqueConstraint("account_id", "purpose", name="uq_verification_codes_account_purpose"),
)

security_events = Table(
    "security_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("kind", NulFree(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("ip", NulFree(64)),
    Column("user_agent", NulFree(255)),
    Index("ix_security_events_account", "account_id", "id"),
)

# Never bodies, codes, tokens, cookies or query strings: the route is the pattern matched.
access_log = Table(
    "access_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("ip", NulFree(64)),
    Column("user_agent", NulFree(255)),
    Column("method", NulFree(8), nullable=False),
    Column("route", NulFree(200), nullable=False),
    Column("status", Integer, nullable=False),
    Index("ix_access_log_at", "at"),
)

# SMS the server itself sent through a bridge (verification codes, notices). The id,
# negated, is the outbox id the bridge journals by, so it must never be reused
# (AUTOINCREMENT on SQLite). Bodies are not kept: they contain codes.
gateway_messages = Table(
    "gateway_messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("device_id", ForeignKey("devices.id", ondelete="SET NULL")),
    Column("recipient", NulFree(32), nullable=False),
    Column("kind", NulFree(16), nullable=False),
    sqlite_autoincrement=True,
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
    Column("number", NulFree(32), nullable=False),
    Column("name", NulFree(100), nullable=False),
    Column("seq", BigInteger, nullable=False),
    # Tombstone: the number left the phonebook (kept so the change propagates).
    Column("deleted", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("line_id", "number", name="uq_contacts_line_number"),
    Index("ix_contacts_account_number", "account_id", "number"),
)

# MMS parts. Bytes and file name are sealed with the account's data key, bound to
# (message, position) (see attachments.py, the only reader and writer); ``digest`` is a
# keyed MAC of the content, for idempotent re-uploads. Deleting the message deletes them.
attachments = Table(
    "attachments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("mime", NulFree(100), nullable=False),
    Column("name_sealed", LargeBinary),
    Column("size", Integer, nullable=False),
    Column("digest", LargeBinary(32), nullable=False),
    Column("data_sealed", LargeBinary, nullable=False),
    UniqueConstraint("message_id", "position", name="uq_attachments_message_position"),
)

# When an account's seq had which value (one mark per compaction run in which it moved),
# so tombstones older than a retention age can be found by seq (storage/compaction.py).
seq_marks = Table(
    "seq_marks",
    metadata,
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
)

# Each server node's latest mark, which the node also keeps in its data directory: a
# database older than the node's file (a restored backup) shows another mark at start-up
# (server/continuity.py).
node_marks = Table(
    "node_marks",
    metadata,
    Column("node", NulFree(32), primary_key=True),
    Column("mark", NulFree(32), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)


# Every look of an operator into an account (``ferry admin``), append-only (triggers refuse
# UPDATE and DELETE) and hash-chained: ``hash`` covers the row and ``prev_hash``, the
# previous row's hash (32 zero bytes for the first), so a changed or removed row breaks
# the chain (server/privacy/audit.py). ``account_id`` is no foreign key: the record of
# an access outlives the account.
staff_access = Table(
    "staff_access",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("operator", NulFree(64), nullable=False),
    Column("account_id", BigInteger),
    Column("action", NulFree(32), nullable=False),
    Column("reason", NulFree(500), nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    UniqueConstraint("prev_hash", name="uq_staff_access_prev_hash"),
    Index("ix_staff_access_account", "account_id", "id"),
)


# ------------------------------------------------------------------ OAuth (server/oauth)
#
# Third-party clients act for a user after consent. Every secret (client secrets,
# authorization request handles, codes, refresh tokens, socket tickets) is stored as its
# SHA-256 only; access tokens are signed JWTs and are not stored at all.

# Signing keys of access tokens. The private half is sealed with the master key; a
# retired key signs nothing more but stays in the JWKS until its last token has expired.
oauth_keys = Table(
    "oauth_keys",
    metadata,
    Column("kid", NulFree(32), primary_key=True),
    Column("private_sealed", LargeBinary, nullable=False),
    Column("public_raw", LargeBinary(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("retired_at", UtcDateTime()),
)

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", Id, primary_key=True),
    Column("client_id", NulFree(64), nullable=False, unique=True),
    # The developer who registered it in settings; NULL: registered dynamically (RFC 7591).
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE")),
    Column("name", NulFree(100), nullable=False),
    Column("logo_uri", NulFree(500)),
    # SHA-256 of the secret of a confidential client; NULL: a public client (PKCE only).
    Column("secret_hash", LargeBinary(32)),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_oauth_clients_account", "account_id"),
)

# Redirect URIs, matched exactly; ``origin`` answers CORS for the client's pages.
oauth_redirects = Table(
    "oauth_redirects",
    metadata,
    Column("client_pk", ForeignKey("oauth_clients.id", ondelete="CASCADE"), primary_key=True),
    Column("uri", NulFree(500), primary_key=True),
    Column("origin", NulFree(300), nullable=False),
    Index("ix_oauth_redirects_origin", "origin"),
)

# An authorization request waiting for the user's decision on the consent screen.
oauth_requests = Table(
    "oauth_requests",
    metadata,
    Column("id_hash", LargeBinary(32), primary_key=True),
    Column("client_pk", ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False),
    Column("redirect_uri", NulFree(500), nullable=False),
    Column("scope", NulFree(200), nullable=False),
    Column("state", NulFree(500)),
    Column("challenge", NulFree(128), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
)

# What a user granted a client: the scopes and conversations ticked, for how long.
oauth_grants = Table(
    "oauth_grants",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("client_pk", ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False),
    Column("scope", NulFree(200), nullable=False),
    # JSON list of thread ids; NULL: every conversation.
    Column("threads", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    # NULL: until revoked.
    Column("expires_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
    Column("last_used_at", UtcDateTime()),
    Index("ix_oauth_grants_account", "account_id"),
)

oauth_codes = Table(
    "oauth_codes",
    metadata,
    Column("code_hash", LargeBinary(32), primary_key=True),
    Column("grant_id", ForeignKey("oauth_grants.id", ondelete="CASCADE"), nullable=False),
    Column("redirect_uri", NulFree(500), nullable=False),
    Column("challenge", NulFree(128), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
)

# Refresh tokens: one live per grant; a used one is kept so its reuse is recognised.
oauth_refresh = Table(
    "oauth_refresh",
    metadata,
    Column("token_hash", LargeBinary(32), primary_key=True),
    Column("grant_id", ForeignKey("oauth_grants.id", ondelete="CASCADE"), nullable=False),
    Column("scope", NulFree(200), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
    Index("ix_oauth_refresh_grant", "grant_id"),
)

# One-time socket tickets (live updates without a token in the URL).
oauth_tickets = Table(
    "oauth_tickets",
    metadata,
    Column("ticket_hash", LargeBinary(32), primary_key=True),
    Column("grant_id", ForeignKey("oauth_grants.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)

# What each app did, for the user's "Connected apps" page: never bodies or tokens.
oauth_log = Table(
    "oauth_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("grant_id", ForeignKey("oauth_grants.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("ip", NulFree(64)),
    Column("action", NulFree(120), nullable=False),
    Column("status", Integer, nullable=False),
    Index("ix_oauth_log_grant", "grant_id", "id"),
)


# ---- consent and abuse (migration 0014_consent)

# A peer's last opt-out or opt-in keyword on one line (server/consent/keywords.py): while
# ``opted_out`` is true, nothing is sent to ``peer`` from the line. The row stays after an
# opt-in, so a late-arriving older keyword cannot undo a newer one (``changed_at`` is
# the keyword message's own time).
optouts = Table(
    "optouts",
    metadata,
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), primary_key=True),
    Column("peer", NulFree(32), primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("opted_out", Boolean, nullable=False),
    Column("keyword", NulFree(32), nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Index("ix_optouts_account", "account_id"),
)

# The user's record that a number agreed to receive their messages (broadcasts go only
# to these); withdrawing it deletes the row.
recipient_consents = Table(
    "recipient_consents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("number", NulFree(32), nullable=False),
    # When the person agreed, as the user states it, and when the user recorded it.
    Column("given_at", UtcDateTime(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("note", NulFree(200), nullable=False, server_default=""),
    UniqueConstraint("account_id", "number", name="uq_recipient_consents_number"),
)

# One message to a list of numbers, paced per line: each recipient gets an outgoing
# message of its own (client_msg_id ``b<broadcast>-<recipient>``) once its ``due_at``
# has come, and then its status is that message's.
broadcasts = Table(
    "broadcasts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
    Column("body_sealed", LargeBinary, nullable=False),
    # The browser's id for it: a retried request never sends a broadcast twice.
    Column("client_id", NulFree(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("cancelled_at", UtcDateTime()),
    UniqueConstraint("account_id", "client_id", name="uq_broadcasts_client_id"),
)

broadcast_recipients = Table(
    "broadcast_recipients",
    metadata,
    Column("id", Id, primary_key=True),
    Column("broadcast_id", ForeignKey("broadcasts.id", ondelete="CASCADE"), nullable=False),
    Column("line_id", ForeignKey("lines.id", ondelete="CASCADE"), nullable=False),
    Column("number", NulFree(32), nullable=False),
    # queued (waiting for due_at), released (its message exists: see message_id),
    # skipped_no_consent, skipped_opted_out, cancelled.
    Column("state", NulFree(24), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("message_id", ForeignKey("messages.id", ondelete="SET NULL")),
    UniqueConstraint("broadcast_id", "number", name="uq_broadcast_recipients_number"),
    Index("ix_broadcast_recipients_due", "state", "due_at"),
    Index("ix_broadcast_recipients_line_due", "line_id", "due_at"),
)

# Invite codes for FERRY_SIGNUP=invite, made by ``ferry admin invite create``: single
# use; only their SHA-256 is stored, and a short prefix in clear to name them.
invite_codes = Table(
    "invite_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code_hash", LargeBinary(32), nullable=False, unique=True),
    Column("prefix", NulFree(8), nullable=False),
    Column("note", NulFree(100), nullable=False, server_default=""),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime()),
    Column("used_by", ForeignKey("accounts.id", ondelete="SET NULL")),
    Column("revoked_at", UtcDateTime()),
)

# When verification texts were spent from the hourly budget (FERRY_VERIFY_SMS_PER_HOUR),
# for ``ferry admin signup status``: times only, no numbers; rows go after two days.
verify_sends = Table(
    "verify_sends",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_verify_sends_at", "at"),
)

# Every acceptance of the terms and privacy notice: the version shown and when.
terms_acceptances = Table(
    "terms_acceptances",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("version", NulFree(32), nullable=False),
    Column("accepted_at", UtcDateTime(), nullable=False),
    Index("ix_terms_acceptances_account", "account_id", "id"),
)


# Exports and imports of an account's data (server/privacy/takeout): one row per job,
# with its progress. An export's file lives in the data directory until it is downloaded
# (once, by the session that asked for it) or a day has passed.
data_jobs = Table(
    "data_jobs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("account_id", ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    # export or import
    Column("kind", NulFree(16), nullable=False),
    # The handle of the session that started it: only it may download the file.
    Column("session", NulFree(64), nullable=False),
    # running, ready (export file waiting), downloaded, expired, done (import), failed
    Column("state", NulFree(16), nullable=False),
    Column("done", BigInteger, nullable=False, server_default="0"),
    Column("total", BigInteger, nullable=False, server_default="0"),
    # The file's name inside the data directory's takeout folder (never a user's name).
    Column("file", NulFree(100)),
    # The file's own random key, sealed with the account's data key (the file is sealed
    # with it: server/privacy/takeout/sealedfile.py).
    Column("file_key", LargeBinary),
    # The file's size in clear (what a download sends).
    Column("size", BigInteger),
    # What the job did (counts), as JSON; the reason when it failed.
    Column("summary", Text),
    Column("error", NulFree(200)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("ix_data_jobs_account", "account_id", "id"),
    Index("ix_data_jobs_expires", "expires_at"),
)
