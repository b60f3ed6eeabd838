"""Install modules: each reads the facts it needs and returns a :class:`Plan` (see engine.py).

A module never changes anything while planning; its actions do, and only when the engine runs
them. Files are compared by content (and mode/owner), written atomically, and every path is
taken relative to ``host.root`` so that tests can run a playbook in a temporary directory.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from agentpod.install.engine import Action, Diff, Module, Plan, TaskFailed


def run_command(args: Sequence[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kw)


@dataclass
class Host:
    """What modules act on: a root directory, the templates, variables, a command runner."""

    templates: Path
    variables: Mapping[str, Any]
    root: Path = Path("/")
    run: Callable[..., subprocess.CompletedProcess[str]] = run_command
    facts: dict[str, Any] = field(default_factory=dict)

    def path(self, path: str) -> Path:
        return self.root / str(path).lstrip("/")

    def must(self, *args: str, **kw: Any) -> str:
        proc = self.run(args, **kw)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise TaskFailed(f"{' '.join(args)}: {detail[-1] if detail else proc.returncode}")
        return proc.stdout


# -- files ------------------------------------------------------------------------------------


def _mode(value: Any) -> int:
    return int(value, 8) if isinstance(value, str) else int(value)


def _uid(owner: str | None) -> int:
    return -1 if owner is None else pwd.getpwnam(owner).pw_uid


def _gid(group: str | None) -> int:
    return -1 if group is None else grp.getgrnam(group).gr_gid


def _attr_actions(
    path: Path, mode: int | None, owner: str | None, group: str | None, exists: bool
) -> list[Action]:
    """chmod/chown actions for what differs (everything, when the path does not exist yet)."""
    actions = []
    st = path.stat() if exists else None
    if mode is not None and (st is None or (st.st_mode & 0o7777) != mode):
        actions.append(
            Action(f"chmod {mode:o} {path}", lambda: os.chmod(path, mode), changes=st is not None)
        )
    want_owner = owner is not None and (st is None or _name(pwd.getpwuid, st.st_uid) != owner)
    want_group = group is not None and (st is None or _name(grp.getgrgid, st.st_gid) != group)
    if want_owner or want_group:
        who = f"{owner or ''}:{group or ''}"
        actions.append(
            Action(
                f"chown {who} {path}",
                lambda: os.chown(
                    path, _uid(owner if want_owner else None), _gid(group if want_group else None)
                ),
                changes=st is not None,
            )
        )
    return actions


def _name(lookup: Callable[[int], Any], ident: int) -> str | None:
    try:
        return lookup(ident)[0]
    except KeyError:
        return None


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.agentpod-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def directory(args: Mapping[str, Any], host: Host) -> Plan:
    """args: path, mode, owner, group."""
    path = host.path(args["path"])
    mode = _mode(args.get("mode", "0755"))
    if path.exists() and not path.is_dir():
        raise TaskFailed(f"{path} exists and is not a directory")
    exists = path.is_dir()
    create = (
        None
        if exists
        else Action(f"create directory {path}", lambda: path.mkdir(mode=mode, parents=True))
    )
    return Plan.of(create, *_attr_actions(path, mode, args.get("owner"), args.get("group"), exists))


def _file_plan(
    path: Path, data: bytes, args: Mapping[str, Any], what: str, text_diff: bool
) -> Plan:
    mode = _mode(args.get("mode", "0644"))
    if path.exists() and not path.is_file():
        raise TaskFailed(f"{path} exists and is not a file")
    exists = path.is_file()
    current = path.read_bytes() if exists else None
    write = None
    if current != data:
        diff = None
        if text_diff:
            before = current.decode(errors="replace") if current is not None else ""
            diff = Diff(str(path), before, data.decode(errors="replace"))
        verb = "update" if exists else "create"
        write = Action(f"{verb} {path} ({what})", lambda: _atomic_write(path, data, mode), diff)
    attrs = _attr_actions(path, mode, args.get("owner"), args.get("group"), exists)
    if write is not None:  # a fresh write sets the mode; chown still applies afterwards
        attrs = [Action(a.describe, a.run, changes=False) for a in attrs]
    return Plan.of(write, *attrs)


def render_template(host: Host, src: str, extra: Mapping[str, Any] | None = None) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(host.templates)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["toml"] = _toml_value
    try:
        return env.get_template(src).render(**{**host.variables, **(extra or {})})
    except jinja2.TemplateError as exc:
        raise TaskFailed(f"template {src}: {exc}") from None


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def template(args: Mapping[str, Any], host: Host) -> Plan:
    """args: src (under templates/), dest, mode, owner, group, vars (extra variables)."""
    text = render_template(host, args["src"], args.get("vars"))
    return _file_plan(host.path(args["dest"]), text.encode(), args, args["src"], text_diff=True)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def copy(args: Mapping[str, Any], host: Host) -> Plan:
    """args: src (a file on this machine), dest, mode, owner, group. Compared by sha256."""
    src = Path(args["src"])
    if not src.is_file():
        raise TaskFailed(f"source {src} not found")
    dest = host.path(args["dest"])
    mode = _mode(args.get("mode", "0644"))
    exists = dest.is_file()
    write = None
    if not exists or dest.stat().st_size != src.stat().st_size or _sha256(dest) != _sha256(src):

        def do() -> None:
            tmp = dest.with_name(f".{dest.name}.agentpod-tmp")
            shutil.copyfile(src, tmp)
            os.chmod(tmp, mode)
            os.replace(tmp, dest)

        write = Action(f"{'update' if exists else 'install'} {dest} from {src}", do)
    attrs = _attr_actions(dest, mode, args.get("owner"), args.get("group"), exists)
    if write is not None:
        attrs = [Action(a.describe, a.run, changes=False) for a in attrs]
    return Plan.of(write, *attrs)


def absent(args: Mapping[str, Any], host: Host) -> Plan:
    """args: path (a file, a symlink or a whole directory tree)."""
    path = host.path(args["path"])
    if not path.exists() and not path.is_symlink():
        return Plan()

    def remove() -> None:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    return Plan.of(Action(f"remove {path}", remove))


# -- users ------------------------------------------------------------------------------------


def user(args: Mapping[str, Any], host: Host) -> Plan:
    """args: name, home, groups (created as system groups when missing), shell, system,
    state (present|absent)."""
    name = args["name"]
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        entry = None
    if args.get("state", "present") == "absent":
        return Plan.of(
            Action(f"delete user {name}", lambda: host.must("userdel", name)) if entry else None
        )
    groups = list(args.get("groups", []))
    actions: list[Action] = []
    for g in groups:
        try:
            grp.getgrnam(g)
        except KeyError:
            actions.append(
                Action(f"create group {g}", lambda g=g: host.must("groupadd", "--system", g))
            )
    if entry is None:
        cmd = [
            "useradd",
            "--home-dir",
            args["home"],
            "--no-create-home",
            "--shell",
            args.get("shell", "/usr/sbin/nologin"),
            "--user-group",
        ]
        if args.get("system", True):
            cmd.append("--system")
        if groups:
            cmd += ["--groups", ",".join(groups)]
        actions.append(Action(f"create user {name}", lambda: host.must(*cmd, name)))
        return Plan.of(*actions)
    member_of = {g.gr_name for g in grp.getgrall() if name in g.gr_mem}
    missing = [g for g in groups if g not in member_of]
    if missing:
        actions.append(
            Action(
                f"add {name} to {', '.join(missing)}",
                lambda: host.must("usermod", "--append", "--groups", ",".join(missing), name),
            )
        )
    return Plan.of(*actions)


# -- systemd ----------------------------------------------------------------------------------


def daemon_reload(args: Mapping[str, Any], host: Host) -> Plan:
    return Plan.of(
        Action("systemctl daemon-reload", lambda: host.must("systemctl", "daemon-reload"))
    )


def service(args: Mapping[str, Any], host: Host) -> Plan:
    """args: name, enabled (bool), state (started|stopped|restarted)."""
    name = args["name"]
    state = args.get("state")
    enabled = args.get("enabled")
    is_enabled = host.run(["systemctl", "is-enabled", name]).stdout.strip()
    is_active = host.run(["systemctl", "is-active", name]).stdout.strip()
    known = is_enabled not in ("", "not-found") or host.path(f"/etc/systemd/system/{name}").exists()
    if not known and (state in ("stopped", None) and not enabled):
        return Plan()  # nothing to stop or disable
    actions: list[Action | None] = []
    if enabled is True and is_enabled != "enabled":
        actions.append(Action(f"enable {name}", lambda: host.must("systemctl", "enable", name)))
    if enabled is False and is_enabled == "enabled":
        actions.append(Action(f"disable {name}", lambda: host.must("systemctl", "disable", name)))
    if state == "started" and is_active != "active":
        actions.append(Action(f"start {name}", lambda: _start(host, name)))
    elif state == "stopped" and is_active in ("active", "activating", "reloading"):
        actions.append(Action(f"stop {name}", lambda: host.must("systemctl", "stop", name)))
    elif state == "restarted":
        actions.append(Action(f"restart {name}", lambda: _start(host, name, "restart")))
    return Plan.of(*actions)


def _start(host: Host, name: str, verb: str = "start", settle: float = 1.5) -> None:
    """Start (or restart) a unit and make sure it stays up (a unit that exits at once is in
    "activating (auto-restart)" or "failed" by then)."""
    proc = host.run(["systemctl", verb, name])
    state = ""
    if proc.returncode == 0:
        time.sleep(settle)
        state = host.run(["systemctl", "is-active", name]).stdout.strip()
        if state == "active":
            return
    log = host.run(["journalctl", "-u", name, "-n", "20", "--no-pager", "-o", "cat"]).stdout
    last = " | ".join(log.strip().splitlines()[-3:])
    why = proc.stderr.strip() or f"it is {state or 'not active'}"
    raise TaskFailed(f"systemctl {verb} {name}: {why}; journal: {last} (see: journalctl -u {name})")


# -- docker -----------------------------------------------------------------------------------


def _docker() -> Any:
    import docker

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception as exc:
        raise TaskFailed(f"the Docker engine is not reachable: {exc}") from None
    return client


def docker_network(args: Mapping[str, Any], host: Host) -> Plan:
    """args: name, labels, state (present|absent)."""
    name = args["name"]
    client = _docker()
    found = [n for n in client.api.networks(names=[name]) if n["Name"] == name]
    if args.get("state", "present") == "absent":
        return Plan.of(
            Action(f"remove network {name}", lambda: client.api.remove_network(name))
            if found
            else None
        )
    if found:
        return Plan()
    labels = {str(k): str(v) for k, v in dict(args.get("labels", {})).items()}
    return Plan.of(
        Action(
            f"create network {name}",
            lambda: client.api.create_network(name, driver="bridge", labels=labels),
        )
    )


def docker_purge(args: Mapping[str, Any], host: Host) -> Plan:
    """args: label. Removes every container, volume and network carrying the label."""
    label = args["label"]
    client = _docker()
    containers = client.containers.list(all=True, filters={"label": label})
    volumes = client.volumes.list(filters={"label": label})
    networks = client.networks.list(filters={"label": label})
    actions = [
        Action(f"remove container {c.name}", lambda c=c: c.remove(force=True)) for c in containers
    ]
    actions += [
        Action(f"remove volume {v.name}", lambda v=v: v.remove(force=True)) for v in volumes
    ]
    actions += [Action(f"remove network {n.name}", lambda n=n: n.remove()) for n in networks]
    return Plan.of(*actions)


# -- database ---------------------------------------------------------------------------------


def pg_init(args: Mapping[str, Any], host: Host) -> Plan:
    """args: pgdata, user, program (the agentpod command the services run), env. Initialises
    the data directory when empty, as that user, with the services' own copy of PostgreSQL."""
    import shlex

    pgdata = host.path(args["pgdata"])
    if (pgdata / "PG_VERSION").exists():
        return Plan()
    user = args["user"]
    argv = [*shlex.split(args["program"]), "db-server", "--init-only", "--pgdata", str(pgdata)]
    env = {**os.environ, **{str(k): str(v) for k, v in dict(args.get("env", {})).items()}}

    def init() -> None:
        pgdata.mkdir(mode=0o700, exist_ok=True)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        host.must(*argv, user=entry.pw_uid, group=entry.pw_gid, extra_groups=[], cwd="/", env=env)

    return Plan.of(Action(f"initdb {pgdata} (as {user})", init))


def wait_socket(args: Mapping[str, Any], host: Host) -> Plan:
    """args: path, timeout. Waits for a Unix socket to appear (never "changed")."""
    path = host.path(args["path"])
    timeout = float(args.get("timeout", 60))
    if path.is_socket():
        return Plan()

    def wait() -> None:
        deadline = time.monotonic() + timeout
        while not path.is_socket():
            if time.monotonic() > deadline:
                raise TaskFailed(f"{path} did not appear within {timeout:.0f}s")
            time.sleep(0.2)

    return Plan.of(Action(f"wait for {path}", wait, changes=False))


def db_migrate(args: Mapping[str, Any], host: Host) -> Plan:
    """args: url. Creates the database if needed and applies pending migrations."""
    from agentpod.services import pgserver

    url = args["url"]
    try:
        pending = pgserver.pending(url)
    except pgserver.NotReachable:
        pending = None  # not running yet (check mode, or a first run): plan the whole schema
    if pending == []:
        return Plan()
    what = "all migrations" if pending is None else ", ".join(pending)
    return Plan.of(Action(f"migrate the database ({what})", lambda: pgserver.migrate_url(url)))


# -- the zipapp -------------------------------------------------------------------------------


def zipapp_extract(args: Mapping[str, Any], host: Host) -> Plan:
    """args: pyz, root. Unpacks the zipapp where the (read-only) services will find it, and
    removes older builds' trees."""
    import json
    import zipfile

    pyz = Path(args["pyz"]) if args.get("pyz") else None
    if pyz is None or not zipfile.is_zipfile(pyz):
        return Plan.skipped("not running from the zipapp")
    with zipfile.ZipFile(pyz) as archive:
        build_id = json.loads(archive.read("environment.json"))["build_id"]
    root = host.path(args["root"])
    target = root / f"{pyz.resolve().name}_{build_id}"
    actions: list[Action] = []
    if not (target / "site-packages").is_dir():
        env = {**os.environ, "SHIV_ROOT": str(root)}
        actions.append(
            Action(f"unpack {pyz} into {target}", lambda: host.must(str(pyz), "--version", env=env))
        )
    if root.is_dir():
        for old in root.iterdir():
            if old.is_dir() and old.name != target.name and not old.name.endswith(".tmp"):
                actions.append(
                    Action(f"remove old build {old}", lambda old=old: shutil.rmtree(old))
                )
    return Plan.of(*actions)


MODULES: dict[str, Module] = {
    "directory": directory,
    "template": template,
    "copy": copy,
    "absent": absent,
    "user": user,
    "daemon_reload": daemon_reload,
    "service": service,
    "docker_network": docker_network,
    "docker_purge": docker_purge,
    "pg_init": pg_init,
    "wait_socket": wait_socket,
    "db_migrate": db_migrate,
    "zipapp_extract": zipapp_extract,
}
