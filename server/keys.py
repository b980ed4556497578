"""The server's static X25519 key for the device link, loaded once at start.

From ``FERRY_SERVER_KEY`` (base64 of 32 random bytes) when set, else from
``<data dir>/server.key``, created 0600 on first start. Obviously placeholder values
(wrong length, few distinct bytes, encoded text) are refused: a guessable server
key would let anyone impersonate the server to every bridge.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from pathlib import Path

from protocol.link import generate_keypair, public_key
from server.config import Config, ConfigError
from server.log import server_logger

KEY_FILE = "server.key"


def key_path(config: Config) -> Path:
    return config.data_dir / KEY_FILE


def load_server_key(config: Config) -> bytes:
    """The server's raw 32-byte private key (created on first start).

    Raises:
        ConfigError: the configured key is malformed or an obvious placeholder.
    """
    if config.server_key is not None:
        return parse_key(config.server_key, "FERRY_SERVER_KEY")
    path = key_path(config)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    private, _ = generate_keypair()
    # Owner-only, like the rest of the data directory (it holds the database).
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: two processes starting at once never both write (and disagree on) a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(private).decode() + "\n")
    server_logger.info("created the server's device-link key in %s", path)
    return private


def server_public_key(private: bytes) -> bytes:
    return public_key(private)


def _read(path: Path) -> bytes:
    text = path.read_text()
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        server_logger.warning("%s is readable by other users (mode %o); chmod 600 it", path, mode)
    return parse_key(text, str(path))


def parse_key(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "==", validate=False)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where} is not base64") from None
    if len(raw) != 32:
        raise ConfigError(f"{where} must be 32 bytes of base64")
    # Random bytes are never all printable (odds 1e-14) nor a handful of distinct values;
    # base64 of "changeme-changeme-…" or of 32 zero bytes is.
    if len(set(raw)) < 8 or all(32 <= b < 127 for b in raw):
        raise ConfigError(f"{where} holds a placeholder, not a random key")
    return raw
