"""Server configuration: loaded once, ``FERRY_*`` environment variables override defaults."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import argon2
import phonenumbers

from server.proxies import TrustedProxies

#: Where verification codes can be sent from (``server/sms_gateway``).
SMS_GATEWAYS = ("log", "emulator", "device")
LOG_FORMATS = ("text", "json")
#: Who may sign up (``FERRY_SIGNUP``): anyone, holders of an operator's invite, nobody.
SIGNUP_MODES = ("open", "invite", "closed")
REDIS_SCHEMES = ("redis", "rediss", "unix")


class ConfigError(Exception):
    """The configuration is unusable (bad value in the environment or arguments)."""


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("var")
    database_url: str | None = None
    #: Origins allowed for browser requests and websockets; empty means "same origin as
    #: the request's Host", which is right for a single-host deployment.
    allowed_origins: tuple[str, ...] = ()
    #: Serve cookies with ``Secure`` and the ``__Host-`` prefix. Only plain-HTTP loopback
    #: development may turn it off.
    secure_cookies: bool = False
    session_idle: timedelta = timedelta(days=14)
    session_absolute: timedelta = timedelta(days=30)
    max_body_bytes: int = 64 * 1024
    browser_ws_max_bytes: int = 64 * 1024
    device_ws_max_bytes: int = 1 << 20
    #: How long a fresh websocket may take to authenticate before it is closed.
    handshake_timeout: float = 10.0
    #: At most this many device sockets per address may be unauthenticated at once.
    max_unauthenticated_per_ip: int = 8
    #: Reverse proxies whose forwarding header names the client (``FERRY_TRUSTED_PROXIES``,
    #: addresses and CIDR networks; ``FERRY_FORWARDED_HEADER``: ``x-forwarded-for`` or
    #: ``forwarded``). Default none: the socket's peer is the client.
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    #: Open connections one address may hold; more are closed at once (0: no cap).
    #: Trusted proxies are not capped: they carry everyone's connections.
    max_connections_per_ip: int = 64
    #: Seconds a new connection has to finish its TLS handshake and request headers.
    header_timeout: float = 15.0
    #: The server's device-link key (base64); default: ``<data_dir>/server.key``.
    server_key: str | None = field(default=None, repr=False)
    #: TLS certificate and key (PEM). Without them a non-loopback server makes a
    #: self-signed pair in the data directory on first start.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: The address users and bridges reach this server at (``https://ferry.example``):
    #: put into pairing codes and naming the host of the WebOTP line in code messages.
    #: Default: the request's own scheme and host (pairing), the first allowed origin or
    #: ``host`` (WebOTP).
    public_url: str | None = None
    #: Most devices (non-revoked bridges) per account.
    max_devices: int = 5
    pairing_code_ttl: timedelta = timedelta(minutes=10)
    #: Pairing codes an account may create per hour.
    pairing_codes_per_hour: int = 5
    #: Bytes a browser socket may have unsent before it is dropped (it catches up from its
    #: cursor on reconnect): a slow tab never holds up the others or grows memory.
    browser_send_buffer: int = 256 * 1024
    log_level: str = "INFO"
    #: argon2id cost; hashes made with other parameters are rehashed at the next sign-in.
    password_params: argon2.Parameters = field(
        default_factory=lambda: argon2.profiles.RFC_9106_LOW_MEMORY
    )
    #: How verification codes leave the server: ``log`` (loopback development only),
    #: ``emulator`` (the virtual GSM network of ``ferry demo``), ``device`` (a paired
    #: bridge of the operator sends them through its modem).
    sms_gateway: str = "log"
    emulator_url: str = "http://127.0.0.1:8091"
    #: The bridge that sends codes for the ``device`` gateway.
    gateway_device_id: int | None = None
    #: Key of the verification-code MACs (64 hex digits); default: a 0600 key file
    #: ``code.key`` in ``data_dir``, created on first start. Several server processes
    #: must share it.
    code_key: str | None = field(default=None, repr=False)
    #: Access-log rows older than this are deleted (``FERRY_ACCESS_LOG_DAYS``, 1 to 365).
    access_log_retention: timedelta = timedelta(days=30)
    #: How often expired sessions are looked for and their sockets closed (seconds).
    sweep_interval: float = 5.0
    #: Tombstones (deleted messages, conversations, contacts) older than this are purged,
    #: and browser cursors older than them get a resync. At least 31 days: a bridge
    #: re-sends acknowledged messages for 30, and a purged tombstone cannot refuse one.
    tombstone_age: timedelta = timedelta(days=90)
    #: How often tombstones are compacted (seconds).
    compaction_interval: float = 3600.0
    #: Bytes of encoded change frames kept for tabs at the same cursor (server/ws/feed.py).
    feed_cache_bytes: int = 32 << 20
    #: How often this node renews its mark in the database and data directory, which
    #: tells a database restored from an older backup (server/continuity.py), in seconds.
    continuity_interval: float = 60.0
    #: Redis of a multi-node deployment (``FERRY_REDIS_URL``, ``redis://host:6379/0``):
    #: the hub between nodes uses it (server/nodes); ``/readyz`` checks it answers.
    #: None: one node.
    redis_url: str | None = field(default=None, repr=False)
    #: Prefix of every Redis key and channel of this deployment (``FERRY_REDIS_PREFIX``),
    #: so several deployments can share one Redis; the same on every node.
    redis_prefix: str = "ferry:"
    #: Seconds between a node's database polls for changes while Redis is lost
    #: (``FERRY_NODES_POLL``), and while it is not (``FERRY_NODES_SAFETY_POLL``: a node
    #: killed between a commit and its hint leaves no tab waiting longer).
    nodes_poll: float = 2.0
    nodes_safety_poll: float = 30.0
    #: Bearer token ``/metrics`` requires (``FERRY_METRICS_TOKEN``). Without one,
    #: ``/metrics`` answers only loopback clients that came through no proxy.
    metrics_token: str | None = field(default=None, repr=False)
    #: Seconds a stop (SIGTERM) may take: bridges finish their commits and are told to
    #: reconnect, in-flight requests end, then the process exits, whatever is left.
    shutdown_timeout: float = 10.0
    #: ``text`` (one readable line per event) or ``json`` (one JSON object per line).
    log_format: str = "text"
    #: Third-party clients may register themselves (RFC 7591) at ``/oauth/register``
    #: (``FERRY_OAUTH_DYNAMIC_REGISTRATION``); otherwise only signed-in users register
    #: apps, in settings.
    oauth_dynamic_registration: bool = False
    #: Life of an OAuth access token, seconds (``FERRY_OAUTH_ACCESS_TTL``, 30 to 600).
    oauth_access_ttl: int = 300
    #: The signing key of access tokens is replaced this often (``FERRY_OAUTH_KEY_DAYS``).
    oauth_key_rotation: timedelta = timedelta(days=30)
    #: Requests one OAuth client may make per minute, all its users together
    #: (``FERRY_OAUTH_RATE_LIMIT``).
    oauth_rate_limit: int = 600
    #: ``open``, ``invite`` (an invite code from ``ferry admin invite create``) or
    #: ``closed`` (``FERRY_SIGNUP``).
    signup: str = "open"
    #: Countries (ISO 3166 regions, ``FERRY_SIGNUP_COUNTRIES=GB,FR``) whose numbers may sign
    #: up or be added to an account; empty: every country.
    signup_countries: tuple[str, ...] = ()
    #: Verification texts (codes and notices) all nodes together may send per hour
    #: (``FERRY_VERIFY_SMS_PER_HOUR``): a ceiling on what SMS pumping can cost.
    verify_sms_per_hour: int = 200
    #: Version of the terms and privacy notice users accept (``FERRY_TERMS_VERSION``);
    #: the texts are ``terms.md`` and ``privacy.md`` in ``terms_dir`` (``FERRY_TERMS_DIR``,
    #: default: the ones shipped in ``server/legal``).
    terms_version: str = "2026-12-01"
    terms_dir: Path | None = None
    #: Broadcast messages one line sends per minute (``FERRY_BROADCAST_PER_MINUTE``).
    broadcast_per_minute: int = 6
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ferry.db').resolve()}"

    @property
    def loopback_dev(self) -> bool:
        """Plain-HTTP development on a loopback address."""
        return not self.secure_cookies and _is_loopback(self.host)

    @property
    def webotp_host(self) -> str:
        """The host named in the origin-bound line of code messages (``@host #123456``)."""
        url = self.public_url or (self.allowed_origins[0] if self.allowed_origins else None)
        host = urlsplit(url).hostname if url else None
        return host or self.host

    @property
    def tls_enabled(self) -> bool:
        """TLS is on when a certificate is given or the server is reachable beyond loopback."""
        return self.tls_cert is not None or not _is_loopback(self.host)

    def validate(self) -> Config:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is not a port number (FERRY_PORT: 0 to 65535)")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("give both a TLS certificate and its key, or neither")
        if not self.secure_cookies and not _is_loopback(self.host):
            raise ConfigError(
                "insecure cookies are only allowed when serving on a loopback address"
            )
        if self.sms_gateway not in SMS_GATEWAYS:
            raise ConfigError(f"FERRY_SMS_GATEWAY must be one of {', '.join(SMS_GATEWAYS)}")
        if self.sms_gateway == "log" and not self.loopback_dev:
            raise ConfigError(
                "the 'log' SMS gateway writes codes to the log and is for loopback "
                "development only; choose 'device' (or 'emulator')"
            )
        if self.code_key is not None:
            try:
                if len(bytes.fromhex(self.code_key)) < 32:
                    raise ValueError
            except ValueError:
                raise ConfigError("FERRY_CODE_KEY must be at least 64 hex digits") from None
        if self.max_connections_per_ip < 0 or not 0 < self.header_timeout <= 3600:
            raise ConfigError(
                "FERRY_MAX_CONNECTIONS_PER_IP must be 0 or more and FERRY_HEADER_TIMEOUT "
                "more than 0 and at most 3600 seconds"
            )
        if self.tombstone_age < timedelta(days=31):
            raise ConfigError(
                "FERRY_TOMBSTONE_DAYS must be at least 31: bridges re-send messages of the "
                "last 30 days, and a deleted one whose tombstone is gone would come back"
            )
        if not timedelta(days=1) <= self.access_log_retention <= timedelta(days=365):
            raise ConfigError(
                "FERRY_ACCESS_LOG_DAYS must be 1 to 365: the access log names addresses and "
                "browsers, and is kept only as long as it is needed"
            )
        if not 1 <= self.shutdown_timeout <= 600:
            raise ConfigError("FERRY_SHUTDOWN_TIMEOUT must be 1 to 600 seconds")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(f"FERRY_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ConfigError("FERRY_METRICS_TOKEN must be at least 16 characters")
        if self.redis_url is not None and urlsplit(self.redis_url).scheme not in REDIS_SCHEMES:
            raise ConfigError("FERRY_REDIS_URL must start with redis://, rediss:// or unix://")
        if not 1 <= len(self.redis_prefix) <= 64 or not self.redis_prefix.isprintable():
            raise ConfigError("FERRY_REDIS_PREFIX must be 1 to 64 printable characters")
        if not 0.1 <= self.nodes_poll <= 60 or not 1 <= self.nodes_safety_poll <= 3600:
            raise ConfigError(
                "FERRY_NODES_POLL must be 0.1 to 60 seconds and FERRY_NODES_SAFETY_POLL "
                "1 to 3600 seconds"
            )
        if not 0.1 <= self.sweep_interval <= 3600:
            raise ConfigError("FERRY_SWEEP_INTERVAL must be 0.1 to 3600 seconds")
        if not 30 <= self.oauth_access_ttl <= 600:
            raise ConfigError("FERRY_OAUTH_ACCESS_TTL must be 30 to 600 seconds")
        if not 1 <= self.oauth_rate_limit <= 1_000_000:
            raise ConfigError("FERRY_OAUTH_RATE_LIMIT must be 1 to 1000000 a minute")
        if not timedelta(days=1) <= self.oauth_key_rotation <= timedelta(days=365):
            raise ConfigError("FERRY_OAUTH_KEY_DAYS must be 1 to 365")
        self._validate_consent()
        if self.sms_gateway == "device" and self.gateway_device_id is None:
            raise ConfigError("the 'device' SMS gateway needs FERRY_GATEWAY_DEVICE_ID")
        return self

    def _validate_consent(self) -> None:
        if self.signup not in SIGNUP_MODES:
            raise ConfigError(f"FERRY_SIGNUP must be one of {', '.join(SIGNUP_MODES)}")
        unknown = [c for c in self.signup_countries if c not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ConfigError(
                f"FERRY_SIGNUP_COUNTRIES: {', '.join(unknown)} is not a country code "
                "(two letters, e.g. GB,FR)"
            )
        if not 1 <= self.verify_sms_per_hour <= 1_000_000:
            raise ConfigError("FERRY_VERIFY_SMS_PER_HOUR must be 1 to 1000000")
        version = self.terms_version
        if not 1 <= len(version) <= 32 or not all(c.isalnum() or c in "-._" for c in version):
            raise ConfigError(
                "FERRY_TERMS_VERSION must be 1 to 32 letters, digits, '-', '.' or '_'"
            )
        if not 1 <= self.broadcast_per_minute <= 600:
            raise ConfigError("FERRY_BROADCAST_PER_MINUTE must be 1 to 600")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Defaults, then ``FERRY_*`` variables, then explicit overrides."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        try:
            if "FERRY_HOST" in env:
                values["host"] = env["FERRY_HOST"]
            if "FERRY_PORT" in env:
                values["port"] = int(env["FERRY_PORT"])
            if "FERRY_DATA_DIR" in env:
                values["data_dir"] = Path(env["FERRY_DATA_DIR"])
            if "FERRY_DATABASE_URL" in env:
                values["database_url"] = env["FERRY_DATABASE_URL"]
            if "FERRY_ALLOWED_ORIGINS" in env:
                values["allowed_origins"] = tuple(
                    o.strip() for o in env["FERRY_ALLOWED_ORIGINS"].split(",") if o.strip()
                )
            if "FERRY_SECURE_COOKIES" in env:
                values["secure_cookies"] = env["FERRY_SECURE_COOKIES"].lower() in ("1", "true")
            if "FERRY_SERVER_KEY" in env:
                values["server_key"] = env["FERRY_SERVER_KEY"]
            if "FERRY_TLS_CERT" in env:
                values["tls_cert"] = Path(env["FERRY_TLS_CERT"])
            if "FERRY_TLS_KEY" in env:
                values["tls_key"] = Path(env["FERRY_TLS_KEY"])
            if "FERRY_PUBLIC_URL" in env:
                values["public_url"] = env["FERRY_PUBLIC_URL"].rstrip("/")
            if "FERRY_MAX_DEVICES" in env:
                values["max_devices"] = int(env["FERRY_MAX_DEVICES"])
            if "FERRY_LOG_LEVEL" in env:
                values["log_level"] = env["FERRY_LOG_LEVEL"].upper()
            if "FERRY_SMS_GATEWAY" in env:
                values["sms_gateway"] = env["FERRY_SMS_GATEWAY"].lower()
            if "FERRY_EMULATOR_URL" in env:
                values["emulator_url"] = env["FERRY_EMULATOR_URL"]
            if "FERRY_GATEWAY_DEVICE_ID" in env:
                values["gateway_device_id"] = int(env["FERRY_GATEWAY_DEVICE_ID"])
            if "FERRY_CODE_KEY" in env:
                values["code_key"] = env["FERRY_CODE_KEY"]
            if "FERRY_TRUSTED_PROXIES" in env or "FERRY_FORWARDED_HEADER" in env:
                values["trusted_proxies"] = TrustedProxies.parse(
                    env.get("FERRY_TRUSTED_PROXIES", ""),
                    env.get("FERRY_FORWARDED_HEADER", "x-forwarded-for"),
                )
            if "FERRY_MAX_CONNECTIONS_PER_IP" in env:
                values["max_connections_per_ip"] = int(env["FERRY_MAX_CONNECTIONS_PER_IP"])
            if "FERRY_HEADER_TIMEOUT" in env:
                values["header_timeout"] = float(env["FERRY_HEADER_TIMEOUT"])
            if "FERRY_TOMBSTONE_DAYS" in env:
                values["tombstone_age"] = timedelta(days=int(env["FERRY_TOMBSTONE_DAYS"]))
            if env.get("FERRY_REDIS_URL"):
                values["redis_url"] = env["FERRY_REDIS_URL"]
            if env.get("FERRY_REDIS_PREFIX"):
                values["redis_prefix"] = env["FERRY_REDIS_PREFIX"]
            if "FERRY_NODES_POLL" in env:
                values["nodes_poll"] = float(env["FERRY_NODES_POLL"])
            if "FERRY_NODES_SAFETY_POLL" in env:
                values["nodes_safety_poll"] = float(env["FERRY_NODES_SAFETY_POLL"])
            if "FERRY_SWEEP_INTERVAL" in env:
                values["sweep_interval"] = float(env["FERRY_SWEEP_INTERVAL"])
            if env.get("FERRY_METRICS_TOKEN"):
                values["metrics_token"] = env["FERRY_METRICS_TOKEN"]
            if "FERRY_SHUTDOWN_TIMEOUT" in env:
                values["shutdown_timeout"] = float(env["FERRY_SHUTDOWN_TIMEOUT"])
            if "FERRY_LOG_FORMAT" in env:
                values["log_format"] = env["FERRY_LOG_FORMAT"].strip().lower()
            values.update(_consent_env(env))
            if "FERRY_ACCESS_LOG_DAYS" in env:
                values["access_log_retention"] = timedelta(days=int(env["FERRY_ACCESS_LOG_DAYS"]))
            if "FERRY_OAUTH_DYNAMIC_REGISTRATION" in env:
                values["oauth_dynamic_registration"] = env[
                    "FERRY_OAUTH_DYNAMIC_REGISTRATION"
                ].lower() in ("1", "true", "yes", "on")
            if "FERRY_OAUTH_ACCESS_TTL" in env:
                values["oauth_access_ttl"] = int(env["FERRY_OAUTH_ACCESS_TTL"])
            if "FERRY_OAUTH_KEY_DAYS" in env:
                values["oauth_key_rotation"] = timedelta(days=int(env["FERRY_OAUTH_KEY_DAYS"]))
            if "FERRY_OAUTH_RATE_LIMIT" in env:
                values["oauth_rate_limit"] = int(env["FERRY_OAUTH_RATE_LIMIT"])
        except ValueError as exc:
            raise ConfigError(f"bad FERRY_* value: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = replace(cls(), **values)
        if config.tls_enabled:
            # Cookies follow the transport: secure whenever TLS is on.
            config = replace(config, secure_cookies=True)
        return config.validate()


def _consent_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Sign-up, terms and broadcast settings from the environment (ValueError: bad)."""
    values: dict[str, Any] = {}
    if env.get("FERRY_SIGNUP"):
        values["signup"] = env["FERRY_SIGNUP"].strip().lower()
    if "FERRY_SIGNUP_COUNTRIES" in env:
        values["signup_countries"] = tuple(
            c.strip().upper() for c in env["FERRY_SIGNUP_COUNTRIES"].split(",") if c.strip()
        )
    if "FERRY_VERIFY_SMS_PER_HOUR" in env:
        values["verify_sms_per_hour"] = int(env["FERRY_VERIFY_SMS_PER_HOUR"])
    if env.get("FERRY_TERMS_VERSION"):
        values["terms_version"] = env["FERRY_TERMS_VERSION"].strip()
    if env.get("FERRY_TERMS_DIR"):
        values["terms_dir"] = Path(env["FERRY_TERMS_DIR"])
    if "FERRY_BROADCAST_PER_MINUTE" in env:
        values["broadcast_per_minute"] = int(env["FERRY_BROADCAST_PER_MINUTE"])
    return values


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
