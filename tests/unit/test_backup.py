"""Backups without Docker: the restore's refusals, retention, and the archive's checksums."""

from __future__ import annotations

import gzip
import io
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentpod.core.backup import (
    BackupError,
    DumpContents,
    Manifest,
    PodEntry,
    PodRecord,
    TenantRecord,
    UserRecord,
    backup_age,
    refusals,
    to_prune,
)
from agentpod.core.models import Limits, TenantSettings
from agentpod.core.names import PodRef
from agentpod.services import archive


def entry(ref: str = "acme/web", **kw: object) -> PodEntry:
    base = {
        "ref": ref,
        "adapter": "generic",
        "image": "img",
        "subdomain": ref.replace("/", "-"),
        "volume": f"agentpod-data-{ref.replace('/', '-')}",
        "state_dir": "/data",
    }
    return PodEntry(**{**base, **kw})


def test_refusals() -> None:
    e = entry(domains=["a.example.com"])
    assert refusals([e], {}, set(), set(), replace=False) == []
    assert refusals([e], {"acme/web": ("acme-web", [])}, set(), set(), False) == [
        "pod acme/web exists (pass --yes to replace it)"
    ]
    assert refusals([e], {"acme/web": ("acme-web", [])}, {e.volume}, set(), True) == []
    assert "volume agentpod-data-acme-web" in refusals([e], {}, {e.volume}, set(), False)[0]
    assert refusals([e], {}, {e.volume}, set(), True) == []
    clash = {"other/x": ("acme-web", ["a.example.com"])}
    assert refusals([e], clash, set(), set(), True) == [
        "subdomain acme-web of acme/web is used by pod other/x",
        "domain a.example.com of acme/web is routed to pod other/x",
    ]
    foreign = refusals([e], {}, set(), {"agentpod-acme-web"}, True)
    assert foreign and "outside this AgentPod" in foreign[0]


def test_to_prune_keeps_the_newest() -> None:
    names = [f"agentpod-2026120{d}T000000.000Z.tar.gz" for d in (3, 1, 2, 4)]
    assert to_prune(names, 2) == [names[2], names[1]]
    assert to_prune(names, 10) == []


def write_archive(tmp_path: Path, name: str = "b.tar.gz") -> Path:
    staged = tmp_path / "staged"
    (staged / "volumes").mkdir(parents=True)
    (staged / "database.sql").write_text("SELECT 1;\n")
    (staged / "volumes" / "v.tar").write_bytes(b"x" * 5000)
    names = ["database.sql", "volumes/v.tar"]
    manifest = Manifest(
        agentpod_version="0",
        postgres_version="18",
        created_at=datetime.now(UTC),
        instance="i",
        scope="all",
        pods=[entry(data="volumes/v.tar")],
        members={n: archive.digest(staged / n) for n in names},
    )
    dest = tmp_path / name
    archive.write(dest, manifest, staged)
    return dest


@pytest.mark.parametrize("name", ["b.tar", "b.tar.gz"])
def test_archive_round_trip(tmp_path: Path, name: str) -> None:
    dest = write_archive(tmp_path, name)
    assert dest.stat().st_mode & 0o777 == 0o600
    out = tmp_path / "out"
    manifest = archive.unpack(dest, out)
    assert (out / "volumes" / "v.tar").read_bytes() == b"x" * 5000
    assert archive.read_manifest(dest) == manifest


def test_archive_is_written_without_tarinfo_replace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian 12's python3 is 3.11.2: its TarInfo has no ``replace`` (added in 3.11.4)."""
    monkeypatch.delattr(tarfile.TarInfo, "replace", raising=False)
    with tarfile.open(write_archive(tmp_path, "b.tar")) as tar:
        owners = {(m.name, m.mode, m.uid, m.uname) for m in tar.getmembers()[1:]}
    assert owners == {(n, 0o600, 0, "") for n in ("database.sql", "volumes/v.tar")}


def test_archive_corruption_is_found(tmp_path: Path) -> None:
    dest = write_archive(tmp_path)
    data = bytearray(gzip.decompress(dest.read_bytes()))
    data[data.index(b"xxxxx") + 10] = ord("y")
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"volumes/v\.tar is corrupted"):
        archive.unpack(bad, tmp_path / "out")
    truncated = tmp_path / "short.tar.gz"
    truncated.write_bytes(dest.read_bytes()[:200])
    with pytest.raises(BackupError, match=r"not a readable archive|incomplete"):
        archive.unpack(truncated, tmp_path / "out2")


def test_archive_extra_member_is_refused(tmp_path: Path) -> None:
    dest = write_archive(tmp_path, "b.tar")
    with tarfile.open(dest, "a") as tar:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"!"))
    with pytest.raises(BackupError, match=r"unexpected member '\.\./escape'"):
        archive.unpack(dest, tmp_path / "out")
    assert not (tmp_path / "escape").exists()


def test_backup_age() -> None:
    assert backup_age(3600 * 5, "/b/a.tar.gz", 3) == (
        True,
        "last good backup 5.0 h ago (3 pod(s), /b/a.tar.gz)",
    )
    ok, detail = backup_age(86400 * 4, "/b/a.tar.gz", 3)
    assert not ok and "4 days ago" in detail


ALL = ["a/web", "a/db", "b/web"]


def _dump() -> DumpContents:
    def pod(ref: str) -> PodRecord:
        t, n = ref.split("/")
        return PodRecord(tenant=t, name=n, adapter="generic",
                         subdomain=f"{t}-{n}", desired_status="running", image="img",
                         limits=Limits(memory_mb=64, cpus=0.5), token="x", config={})  # fmt: skip

    return DumpContents(
        pods=[pod(ref) for ref in ALL],
        tenants=[TenantRecord(name=n, settings=TenantSettings()) for n in ("a", "b", "empty")],
        users=[UserRecord(name="ann", role="member", password_hash="h", tenants=["a"])],
        prices={"m": (1.0, 2.0)},
    )


@pytest.mark.parametrize(
    ("scope", "refs", "only", "pods", "tenants", "accounts"),
    [
        ("all", set(ALL), None, ALL, ["a", "b", "empty"], True),
        ("all", {"a/db"}, PodRef("a", "db"), ["a/db"], ["a"], False),
        ("tenant empty", set(), None, [], ["empty"], False),
        ("tenant a", {"a/web", "a/db"}, None, ["a/web", "a/db"], ["a"], False),
        ("pod b/web", {"b/web"}, None, ["b/web"], ["b"], False),
    ],
)  # fmt: skip
def test_what_a_restore_brings_back_by_scope(
    scope: str, refs: set[str], only: PodRef | None, pods: list, tenants: list, accounts: bool
) -> None:
    got = _dump().scoped(scope, refs, only)
    assert [str(r.ref) for r in got.pods] == pods
    assert [t.name for t in got.tenants] == tenants
    assert bool(got.users) is accounts and bool(got.prices) is accounts
