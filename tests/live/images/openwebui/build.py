"""Build a real Open WebUI Docker image for AgentPod live tests, without any image registry.

Recipe (all of it cached under $AGENTPOD_LIVE_CACHE, default ~/.cache/agentpod-live):

1. base image ``agentpod-live/debian-python:bookworm``: ``debootstrap --variant=minbase`` Debian
   bookworm with ca-certificates, tini and python3.11, ``docker import``-ed.
2. ``pip install --target`` of ``torch==TORCH_VERSION`` (the CPU build this machine keeps on
   disk; a bare ``torch`` requirement would pull a CUDA build of several GB) and
   ``open-webui==VERSION`` on the HOST, with its CPython 3.11 (containers cannot reach PyPI).
3. ``docker build`` (legacy builder, no pull) of the Dockerfile next to this file.

Usage::

    python tests/live/images/openwebui/build.py            # default tag
    python tests/live/images/openwebui/build.py --variant b # + a trivial extra layer
    python tests/live/images/openwebui/build.py --force     # rebuild even if the tag exists

From Python: ``ensure_openwebui_image()`` -> the tag; ``ensure_openwebui_image(tag, "b")``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(HERE.parents[3]))

from tests.live.images.common import (  # noqa: E402
    DEBIAN_SUITE,
    BuildError,
    build_and_remove,
    build_variant_b,
    cache_dir,
    ensure_debian_image,
    ensure_tag,
    image_main,
    link_tree,
    log,
    run,
)
from tests.support.buildcache import MARKER, ensure_dir  # noqa: E402

OPENWEBUI_VERSION = "0.12.4"
TORCH_VERSION = "2.13.0"
PYTHON = "3.11"  # Debian bookworm's python3.11: the host's CPython must be the same minor
# Asked for by packages only on the image's Python (3.11.2) and not on a newer host's: redis
# imports async_timeout below 3.11.3 (a marker the host's pip evaluates for itself)
IMAGE_ONLY = ("async-timeout",)
DEFAULT_TAG = f"agentpod-live/open-webui:{OPENWEBUI_VERSION}"
VARIANT_B_TAG = f"agentpod-live/open-webui:{OPENWEBUI_VERSION}-b"
BASE_TAG = f"agentpod-live/debian-python:{DEBIAN_SUITE}"


def ensure_base_image() -> str:
    return ensure_debian_image(BASE_TAG, "python", ("ca-certificates", "tini", f"python{PYTHON}"))


def ensure_site() -> Path:
    """open-webui and the CPU build of torch, installed with ``pip --target`` into a cached dir."""
    root = cache_dir() / f"open-webui-{OPENWEBUI_VERSION}-torch-{TORCH_VERSION}-py{PYTHON}"
    return ensure_dir(root, _pip_install)


def _pip_install(target: Path) -> None:
    python = _host_python()
    log(f"pip install open-webui=={OPENWEBUI_VERSION} on the host (several minutes)")
    # one resolution with torch pinned: the CPU build on this machine's disk meets open-webui's
    # bare torch requirement (alone, or in a later --target run that cannot see it, that
    # requirement resolves to a CUDA build of several GB)
    run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--target", str(target), f"torch=={TORCH_VERSION}", f"open-webui=={OPENWEBUI_VERSION}",
         *IMAGE_ONLY],
        quiet=True,
    )  # fmt: skip
    _check_torch_is_cpu(python, target)


def _host_python() -> str:
    """A CPython of the base image's minor version on the host: this one, or ``python3.11``."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == PYTHON:
        return sys.executable
    found = shutil.which(f"python{PYTHON}")
    if found is None:
        raise BuildError(f"the Open WebUI image needs CPython {PYTHON} on the host")
    return found


def _check_torch_is_cpu(python: str, target: Path) -> None:
    probe = "import torch, sys; sys.stdout.write(torch.__version__)"
    proc = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, env={"PYTHONPATH": str(target)}
    )
    if proc.returncode != 0 or "+cpu" not in proc.stdout:
        raise BuildError(f"torch in {target} is not the CPU build: {proc.stdout}{proc.stderr}")


def build_main_image(tag: str) -> str:
    base = ensure_base_image()
    site = ensure_site()
    ctx = Path(tempfile.mkdtemp(prefix=f"context-open-webui-{OPENWEBUI_VERSION}-", dir=cache_dir()))
    link_tree(site, ctx / "site", {MARKER, "bin"})
    shutil.copy2(HERE / "Dockerfile", ctx / "Dockerfile")
    (ctx / ".dockerignore").write_text("Dockerfile\n")
    return build_and_remove(
        ctx,
        tag,
        {"BASE": base, "OPENWEBUI_VERSION": OPENWEBUI_VERSION},
        f"open-webui={OPENWEBUI_VERSION},torch={TORCH_VERSION}+cpu",
    )


def build_b(tag: str) -> str:
    return build_variant_b(ensure_openwebui_image(DEFAULT_TAG), tag)


def ensure_openwebui_image(
    tag: str = DEFAULT_TAG, variant: str | None = None, *, force: bool = False
) -> str:
    """Return ``tag`` once it names a local image of real Open WebUI (built if needed);
    ``variant="b"``: the default image plus a trivial layer (an upgrade target)."""
    return ensure_tag(tag, variant, (build_main_image, build_b), force=force)


def main(argv: list[str] | None = None) -> int:
    return image_main(
        argv, __doc__.splitlines()[0], ensure_openwebui_image, (DEFAULT_TAG, VARIANT_B_TAG)
    )


if __name__ == "__main__":
    sys.exit(main())
