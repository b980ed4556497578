"""The server's static key, TLS set-up, and the operator's pairing-code command."""

from __future__ import annotations

import asyncio
import base64
import stat
from pathlib import Path

import pytest

from protocol.link import public_key
from protocol.pairing import fingerprint_matches, parse_pairing_uri, split_typed_code
from server.admin import create_account
from server.cli import main
from server.config import Config, ConfigError
from server.keys import load_server_key, parse_key
from server.tls import server_tls


def test_server_key_is_created_0600_once_and_reused(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path / "var")
    key = load_server_key(config)
    path = tmp_path / "var" / "server.key"
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_server_key(config) == key


def test_server_key_from_the_environment(tmp_path: Path) -> None:
    raw = bytes(range(100, 132))
    config = Config.from_env(
        {"FERRY_SERVER_KEY": base64.b64encode(raw).decode()}, data_dir=tmp_path
    )
    assert load_server_key(config) == raw
    assert "FERRY_SERVER_KEY" not in repr(config) and base64.b64encode(raw).decode() not in repr(
        config
    )
    assert not (tmp_path / "server.key").exists()


@pytest.mark.parametrize(
    "value",
    [
        "changeme",
        "",
        base64.b64encode(b"\0" * 32).decode(),
        base64.b64encode(b"changeme-changeme-changeme-12345").decode(),
        base64.b64encode(bytes(range(31))).decode(),
        "not base64 at all!!",
    ],
)
def test_placeholder_server_keys_are_refused(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_key(value, "FERRY_SERVER_KEY")


def test_tls_is_on_beyond_loopback_with_secure_cookies(tmp_path: Path) -> None:
    # Beyond loopback the development-only "log" SMS gateway is refused: name a real one.
    config = Config.from_env(
        {}, host="0.0.0.0", data_dir=tmp_path, sms_gateway="device", gateway_device_id=1
    )
    assert config.tls_enabled and config.secure_cookies
    first = server_tls(config)
    assert first is not None and first.created and first.self_signed
    key = tmp_path / "tls" / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    again = server_tls(config)
    assert again is not None and not again.created and again.fingerprint == first.fingerprint
    local = Config.from_env({}, data_dir=tmp_path)
    assert not local.tls_enabled and server_tls(local) is None and not local.secure_cookies
    with pytest.raises(ConfigError):
        Config.from_env({}, tls_cert=tmp_path / "cert.pem")


def test_admin_pairing_code_prints_both_forms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config(data_dir=tmp_path)
    asyncio.run(create_account(config, "+15550100001", "long password", verified=True))
    args = ["admin", "pairing-code", "--phone", "+15550100001", "--data-dir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    uri_line = next(line for line in out.splitlines() if line.startswith("Pairing URI"))
    uri = parse_pairing_uri(uri_line.split()[-1])
    assert uri.server_url == "http://127.0.0.1:8080"
    assert uri.server_key == public_key(load_server_key(config))
    typed = next(line for line in out.splitlines() if line.startswith("Typed code"))
    code, fingerprint = split_typed_code(typed.split()[-1])
    assert code == uri.code and fingerprint_matches(code, fingerprint, uri.server_key)
    assert (
        main(["admin", "pairing-code", "--phone", "+15550100009", "--data-dir", str(tmp_path)]) == 1
    )
