"""AgentPod's CLI on a fresh VPS (tests/support/vps.py), as the end-to-end install tests use it:
commands and their JSON, a pod's files through the VPS's own engine, a purged machine."""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import urlsplit

from tests.support.backups import Files, files_of, tar_of
from tests.support.vps import Vps


def agentpod(vps: Vps, *args: str, check: bool = True, timeout: float = 420):
    return vps.exec(f"agentpod {shlex.join(args)}", check=check, timeout=timeout)


def agentpod_json(vps: Vps, *args: str) -> Any:
    return json.loads(agentpod(vps, *args, "--format", "json").stdout)


def host_of(vps: Vps, ref: str) -> str:
    return urlsplit(agentpod_json(vps, "pod", "status", ref)["url"]).hostname or ""


def put_files(vps: Vps, ref: str, directory: str, files: dict[str, bytes]) -> None:
    """Write files into a pod's volume with the VPS's own engine."""
    cid = agentpod_json(vps, "pod", "status", ref)["container_id"]
    vps.pipe(f"docker cp - {cid}:{directory}", tar_of(files))


def volume_files(vps: Vps, ref: str, directory: str) -> Files:
    cid = agentpod_json(vps, "pod", "status", ref)["container_id"]
    return files_of(vps.pipe(f"docker cp {cid}:{directory} -"))


def check_purged(vps: Vps) -> None:
    """Nothing of AgentPod left on the machine but the images it ran."""
    left = vps.exec(
        "systemctl list-unit-files 'agentpod*' --no-legend;"
        " ls -d /etc/agentpod /var/lib/agentpod /usr/local/bin/agentpod 2>/dev/null;"
        " id agentpod 2>/dev/null; docker ps -aq; docker volume ls -q;"
        " docker network ls -q --filter label=agentpod.managed=true",
        check=False,
    )
    assert left.stdout.strip() == "", left.stdout
