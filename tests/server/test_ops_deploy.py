"""The samples in ``deploy/``: what can be checked without Docker. The systemd units pass
``systemd-analyze verify``; the nginx configurations pass ``nginx -t``; the settings the
samples give a node load as Ferry's own configuration, with the proxy they trust being
the nginx that sets the header they read; the certificate script makes a node
certificate nginx can check and a public one."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.config import Config
from server.proxies import parse_node
from server.tls import create_self_signed

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
FERRY = Path(sys.executable).parent / "ferry"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _sample_env() -> dict[str, str]:
    """The settings in ferry-server.service's comment, placeholders filled in."""
    text = (DEPLOY / "systemd" / "ferry-server.service").read_text()
    env = dict(re.findall(r"^#\s+(FERRY_[A-Z_]+)=(.*)$", text, re.MULTILINE))
    env["FERRY_METRICS_TOKEN"] = "t" * 32
    return env


def test_the_server_units_settings_load_and_trust_the_local_proxy() -> None:
    config = Config.from_env(_sample_env())
    assert config.secure_cookies and not config.tls_enabled  # TLS ends in nginx
    assert config.trusted_proxies.trusts(parse_node("127.0.0.1"))
    assert config.trusted_proxies.header == "x-forwarded-for"
    assert config.log_format == "json" and config.metrics_token
    nginx = (DEPLOY / "nginx" / "ferry.conf").read_text()
    assert re.search(r"proxy_set_header X-Forwarded-For\s+\$remote_addr;", nginx)
    assert f"server {config.host}:{config.port} " in nginx


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())  # type: ignore[no-any-return]


def test_every_compose_node_loads_and_trusts_only_the_compose_nginx() -> None:
    compose = _compose()
    secrets = dict.fromkeys(
        re.findall(
            r"^(FERRY_[A-Z_]+)=",
            (DEPLOY / "compose" / "ferry.env.example").read_text(),
            re.MULTILINE,
        )
    )
    secrets.update(
        FERRY_MASTER_KEY=_key(),
        FERRY_SERVER_KEY=_key(),
        FERRY_CODE_KEY=os.urandom(32).hex(),
        FERRY_METRICS_TOKEN="m" * 32,
    )
    nginx_ip = compose["services"]["nginx"]["networks"]["ferry"]["ipv4_address"]
    nodes = [name for name in compose["services"] if name.startswith("ferry-")]
    assert len(nodes) >= 2
    for name in nodes:
        node = compose["services"][name]
        assert node["env_file"] == "ferry.env" and node["stop_signal"] == "SIGTERM"
        env = {
            k: str(v).replace("${FERRY_DB_PASSWORD:?set it in .env}", "pw")
            for k, v in node["environment"].items()
        }
        config = Config.from_env({**env, **{k: v for k, v in secrets.items() if v}})
        assert config.tls_enabled and config.redis_url and config.database_url
        assert config.trusted_proxies.trusts(parse_node(nginx_ip))
        assert not config.trusted_proxies.trusts(parse_node("172.28.5.3"))  # another node
        grace = int(node["stop_grace_period"].rstrip("s"))
        assert grace > config.shutdown_timeout + 5
    nginx = (DEPLOY / "compose" / "nginx.conf").read_text()
    assert re.search(r"proxy_set_header X-Forwarded-For\s+\$remote_addr;", nginx)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
@pytest.mark.parametrize("unit", ["ferry-server.service", "ferry-bridge.service"])
def test_the_systemd_units_verify(unit: str, tmp_path: Path) -> None:
    text = (DEPLOY / "systemd" / unit).read_text()
    assert "ExecStart=/opt/ferry/venv/bin/ferry " in text
    # The installed command here, and the settings file made optional: what verify
    # checks is the unit itself.
    text = text.replace("/opt/ferry/venv/bin/ferry", str(FERRY))
    text = text.replace("EnvironmentFile=/", "EnvironmentFile=-/")
    (tmp_path / unit).write_text(text)
    run = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True
    )
    assert (run.returncode, run.stderr.strip()) == (0, "")


def _nginx_t(conf: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    main = tmp_path / "nginx-main.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/body;\n  include {conf};\n}}\n"
    )
    return subprocess.run(
        ["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True
    )


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_the_nginx_sample_passes_nginx_t(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    create_self_signed(cert, key, "ferry.example.org")
    text = (DEPLOY / "nginx" / "ferry.conf").read_text()
    text = text.replace("/etc/letsencrypt/live/ferry.example.org/fullchain.pem", str(cert))
    text = text.replace("/etc/letsencrypt/live/ferry.example.org/privkey.pem", str(key))
    text = text.replace("/var/log/nginx/", f"{tmp_path}/")
    conf = tmp_path / "ferry.conf"
    conf.write_text(text)
    run = _nginx_t(conf, tmp_path)
    assert run.returncode == 0, run.stderr


@pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None,
    reason="nginx or openssl is not installed",
)
def test_the_compose_certificates_and_nginx_fit_together(tmp_path: Path) -> None:
    subprocess.run(
        ["sh", str(DEPLOY / "compose" / "make-certs.sh"), "ferry.example.org"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    certs = tmp_path / "certs"
    assert sorted(p.name for p in certs.iterdir()) == [
        "ca.pem",
        "node.key",
        "node.pem",
        "public.key",
        "public.pem",
    ]  # the CA's key is not kept
    assert oct(certs.stat().st_mode & 0o777) == "0o700"
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(certs / "ca.pem"), str(certs / "node.pem")],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr
    text = (DEPLOY / "compose" / "nginx.conf").read_text()
    text = text.replace("/etc/ferry-certs", str(certs)).replace("/var/log/nginx/", f"{tmp_path}/")
    text = re.sub(r"ferry-\d:8443", "127.0.0.1:8443", text)  # compose's names resolve there only
    conf = tmp_path / "compose-nginx.conf"
    conf.write_text(text)
    run = _nginx_t(conf, tmp_path)
    assert run.returncode == 0, run.stderr
