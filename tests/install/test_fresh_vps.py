"""End to end, as a new user would: on a "fresh VPS" (a Debian container booted with systemd,
see tests/support/vps.py), ``curl .../get-agentpod.sh | bash -s -- ...`` against a local HTTP
server serving the freshly built pyz; then ``agentpod doctor`` passes, the three units are
active, a pod created with the CLI answers through Traefik, a second ``agentpod install`` reports
changed=0, the first admin logs in to the API with the password shown once, its metrics are
scraped (loopback on the VPS, and --metrics-listen from outside),
uninstall keeps tenant data and uninstall --purge removes it, and the host's ``docker stats``
still reads real numbers."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.images import web_image
from tests.support.proc import wait_until
from tests.support.vps import Vps, first_admin, get_agentpod

UNITS = ["agentpod-db.service", "agentpod-traefik.service", "agentpod.service"]

pytestmark = pytest.mark.slow


def check_metrics(vps: Vps, address: str) -> None:
    """The sandboxed unit serves /metrics on loopback (the pod ready, its usage read from its
    cgroup) and, for a scraper, on the --metrics-listen address; the API stays on loopback."""
    pod = frozenset({("tenant", "acme"), ("pod", "web")})

    def scraped(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        families = text_string_to_metric_families(text)
        return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}

    def ready() -> dict | None:
        found = scraped(vps.exec("curl -fsS http://127.0.0.1:8787/metrics").stdout)
        return found if found.get(("agentpod_pod_ready", pod)) == 1 else None

    local = wait_until(ready, 30)
    assert local[("agentpod_pod_memory_bytes", pod)] > 0, "no cgroup found in the sandbox"
    with urllib.request.urlopen(f"http://{address}:9464/metrics", timeout=10) as answer:
        remote = scraped(answer.read().decode())
    assert remote[("agentpod_pods", frozenset({("tenant", "acme"), ("state", "running")}))] == 1
    with pytest.raises(OSError):  # the API itself is not reachable from outside
        urllib.request.urlopen(f"http://{address}:8787/metrics", timeout=5)


def test_fresh_vps_install(vps: Vps, served: str, docker_client) -> None:
    timings: dict[str, float] = {}
    address = vps.address()
    t0 = time.monotonic()
    out = get_agentpod(vps, served, "--email ops@example.com", f"--metrics-listen {address}:9464")
    timings["get-agentpod.sh"] = time.monotonic() - t0
    # the first admin logs in to the installed API with the password shown once
    me = first_admin(vps, out)
    assert (me["kind"], me["name"], me["role"]) == ("user", "admin", "admin")

    for unit in UNITS:
        state = vps.exec(f"systemctl is-active {unit}", check=False).stdout.strip()
        assert state == "active", vps.exec(
            f"journalctl -u {unit} -n 40 --no-pager", check=False
        ).stdout
    doctor = vps.exec("agentpod doctor", check=False)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr

    # a pod through the CLI, answering through Traefik on port 80
    image = web_image()
    vps.load_image(image)
    t1 = time.monotonic()
    vps.exec("agentpod tenant create acme")
    vps.exec(f"agentpod pod create acme/web --type generic --image {image}", timeout=180)
    body = vps.wait_http("acme-web.localhost")
    timings["pod reachable"] = time.monotonic() - t1
    assert "acme/web" in body
    check_metrics(vps, address)

    # idempotent: a second run (no flags: the first run's answers are kept) changes nothing
    t2 = time.monotonic()
    again = vps.exec("agentpod install --format json", check=False, timeout=300)
    timings["second install"] = time.monotonic() - t2
    assert again.returncode == 0, again.stdout + again.stderr
    summary = json.loads(again.stdout)
    changed = [r["task"] for r in summary["results"] if r["status"] == "changed"]
    assert summary["changed"] == 0, changed
    assert summary["failed"] == 0

    # services run sandboxed as the agentpod user
    users = vps.exec("ps -o user= -C traefik,postgres | sort -u").stdout.split()
    assert users == ["agentpod"], users

    # uninstall keeps tenant data; the pod's container is still there
    gone = vps.exec("agentpod uninstall --keep-program", check=False, timeout=300)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert (
        vps.exec("systemctl list-unit-files 'agentpod*' --no-legend", check=False).stdout.strip()
        == ""
    )
    assert vps.exec(
        "test -d /var/lib/agentpod/pgdata && docker ps -q --filter label=agentpod.managed=true"
    ).stdout.strip()
    # --purge without --yes (and no terminal) refuses; with --yes everything goes
    refused = vps.exec("agentpod uninstall --purge < /dev/null", check=False)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    purged = vps.exec("agentpod uninstall --purge --yes", check=False, timeout=300)
    assert purged.returncode == 0, purged.stdout + purged.stderr
    leftovers = vps.exec(
        "ls -d /etc/agentpod /var/lib/agentpod /usr/local/lib/agentpod"
        " /usr/local/bin/agentpod 2>/dev/null; id agentpod 2>/dev/null;"
        " docker ps -aq --filter label=agentpod.managed=true",
        check=False,
    )
    assert leftovers.stdout.strip() == ""

    # the host's own docker stats still read real numbers (the cgroup trap)
    stats = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", vps.name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stats.returncode == 0 and not stats.stdout.startswith("0B"), stats.stdout
    print(f"\nfresh-VPS timings: {json.dumps({k: round(v, 1) for k, v in timings.items()})}")
