"""What the live images' builds share: the cache dir, commands, a debootstrap'd Debian base image
(``docker import``-ed, cached by tag), ``docker build`` with no pull, a build context of hard
links, and an upgrade target ("variant b": an image plus one trivial layer).

Every step is cached with ``tests.support.buildcache`` (lock, temporary place, atomic publish)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.support.buildcache import ensure_file, ensure_image

DEBIAN_SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
LABEL_KEY = "agentpod-live.recipe"
STRIPPED = (
    "usr/share/doc/*",
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
    "var/lib/apt/lists/*",
    "var/cache/apt/*",
    "var/cache/debconf/*-old",
    "var/log/*",
)
_T0 = time.monotonic()


class BuildError(RuntimeError):
    """Something needed for the build is missing or a step failed."""


def log(message: str) -> None:
    print(f"[live-image {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    root = os.environ.get("AGENTPOD_LIVE_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "agentpod-live"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(cmd: list[str], *, quiet: bool = False, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; on failure raise BuildError with the tail of its output."""
    log("$ " + " ".join(cmd))
    proc = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise BuildError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")
    if not quiet and proc.stdout.strip():
        for line in proc.stdout.strip().splitlines()[-5:]:
            log("  " + line)
    return proc


def require_docker() -> None:
    if shutil.which("docker") is None:
        raise BuildError("the docker CLI is not on PATH")
    proc = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BuildError(f"the Docker engine is not reachable: {proc.stderr.strip()}")


# --------------------------------------------------------------------------- base images


def debian_mirror() -> str:
    """The Debian mirror apt uses on this host (DEB822 or one-line sources), else deb.debian.org."""
    if os.environ.get("AGENTPOD_LIVE_DEBIAN_MIRROR"):
        return os.environ["AGENTPOD_LIVE_DEBIAN_MIRROR"]
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("#"):
                continue
            for word in line.replace("URIs:", " ").split():
                if word.startswith("http") and word.rstrip("/").endswith("/debian"):
                    return word.rstrip("/")
    return DEFAULT_MIRROR


def ensure_debootstrap() -> str:
    path = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if os.path.exists("/usr/sbin/debootstrap") else None
    )
    if path:
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BuildError(
            "debootstrap is missing: install it (apt-get install debootstrap) and run as root"
        )
    log("installing debootstrap with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], env=env, check=False, capture_output=True)
    run(["apt-get", "install", "-y", "-q", "debootstrap"], env=env, quiet=True)
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


def ensure_debian_image(tag: str, name: str, packages: Iterable[str]) -> str:
    """``tag``: a minbase Debian rootfs with ``packages``, stripped, ``docker import``-ed; its
    tarball is cached as ``rootfs-<suite>-<name>.tar``."""
    wanted = tuple(packages)

    def build(target: Path) -> None:
        _debootstrap_tar(target, wanted)

    def import_(tag: str) -> None:
        tarball = ensure_file(cache_dir() / f"rootfs-{DEBIAN_SUITE}-{name}.tar", build)
        log(f"docker import {tarball.name} -> {tag}")
        with open(tarball, "rb") as fh:
            proc = subprocess.run(
                ["docker", "import", "-c", 'CMD ["/bin/bash"]', "-", tag],
                stdin=fh,
                capture_output=True,
                text=True,
            )
        if proc.returncode != 0:
            raise BuildError(f"docker import failed: {proc.stderr.strip()}")

    return ensure_image(tag, import_)


def _debootstrap_tar(target: Path, packages: tuple[str, ...]) -> None:
    if os.geteuid() != 0:
        raise BuildError(f"building the base rootfs needs root (debootstrap); or provide {target}")
    debootstrap = ensure_debootstrap()
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="agentpod-rootfs-", dir=cache_dir()) as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap {DEBIAN_SUITE} from {mirror} (about a minute)")
        run(
            [
                debootstrap,
                "--variant=minbase",
                f"--include={','.join(packages)}",
                DEBIAN_SUITE,
                str(rootfs),
                mirror,
            ],
            quiet=True,
        )
        for pattern in STRIPPED:
            for p in rootfs.glob(pattern):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
        run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(target), "."], quiet=True)


# --------------------------------------------------------------------------- docker build


def link_tree(src: Path, dst: Path, skip: set[str]) -> None:
    """Copy ``src`` to ``dst`` as hard links where the file system allows (copies elsewhere),
    leaving out the top-level entries named in ``skip`` (deeper ones with those names stay:
    torch has a ``bin`` of its own)."""

    def copy(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(
        src,
        dst,
        symlinks=True,
        copy_function=copy,
        ignore=lambda d, names: [n for n in names if n in skip] if Path(d) == src else [],
    )


def docker_build(ctx: Path, tag: str, build_args: dict[str, str], labels: dict[str, str]) -> None:
    cmd = ["docker", "build", "--pull=false", "-t", tag]
    for k, v in build_args.items():
        cmd += ["--build-arg", f"{k}={v}"]
    for k, v in labels.items():
        cmd += ["--label", f"{k}={v}"]
    cmd.append(str(ctx))
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    run(cmd, env=env)


def build_and_remove(ctx: Path, tag: str, build_args: dict[str, str], label: str) -> str:
    """``docker build`` of the context dir ``ctx`` as ``tag`` (with ``label`` as its recipe
    label), then remove ``ctx`` whatever happened."""
    log(f"docker build -> {tag}")
    try:
        docker_build(ctx, tag, build_args, {LABEL_KEY: label})
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return tag


def build_variant_b(main: str, tag: str) -> str:
    """``main`` plus one trivial layer: a different image ID with the same behaviour."""
    with tempfile.TemporaryDirectory(prefix="agentpod-variant-b-") as ctx:
        Path(ctx, "variant").write_text("b\n")
        Path(ctx, "Dockerfile").write_text(
            f"FROM {main}\nCOPY variant /etc/agentpod-live-variant\nLABEL agentpod-live.variant=b\n"
        )
        log(f"docker build (variant b) -> {tag}")
        docker_build(Path(ctx), tag, {}, {})
    return tag


def ensure_built(tag: str, build: Callable[[str], str], *, force: bool = False) -> str:
    """``tag`` once it names a local image, built by ``build(tag)`` (always, with ``force``)."""
    if force:
        return _timed_build(build, tag)
    return ensure_image(tag, lambda t: _timed_build(build, t))


def _timed_build(build: Callable[[str], str], tag: str) -> str:
    require_docker()
    started = time.monotonic()
    build(tag)
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def ensure_tag(
    tag: str,
    variant: str | None,
    builds: tuple[Callable[[str], str], Callable[[str], str]],
    *,
    force: bool = False,
) -> str:
    """``ensure_built(tag)`` with ``builds[0]`` (the image) or, for ``variant="b"``,
    ``builds[1]`` (the image plus a trivial layer: an upgrade target)."""
    if variant not in (None, "", "a", "b"):
        raise ValueError(f"unknown variant {variant!r}")
    return ensure_built(tag, builds[1] if variant == "b" else builds[0], force=force)


def image_main(
    argv: list[str] | None,
    description: str,
    ensure: Callable[..., str],
    tags: tuple[str, str],
) -> int:
    """The command line of a live image build: ``[--tag T] [--variant a|b] [--force]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tag", default=None)
    parser.add_argument("--variant", choices=["a", "b"], default="a")
    parser.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    args = parser.parse_args(argv)
    tag = args.tag or (tags[1] if args.variant == "b" else tags[0])
    try:
        print(ensure(tag, variant=args.variant, force=args.force))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
