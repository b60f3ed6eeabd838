"""axe-core, the accessibility checker, fetched from npm at test time (``npm pack``, cached
through the build cache) and run inside the page."""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path
from typing import Any

from tests.support.buildcache import ensure_file

VERSION = "4.10.3"
CACHE = Path.home() / ".cache" / "agentpod-test" / f"axe-core-{VERSION}.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SERIOUS = ("serious", "critical")


def _fetch(target: Path) -> None:
    work = target.parent / f"{target.name}.npm"
    work.mkdir(exist_ok=True)
    try:
        subprocess.run(
            ["npm", "pack", f"axe-core@{VERSION}", "--pack-destination", str(work)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        (tarball,) = work.glob("axe-core-*.tgz")
        with tarfile.open(tarball) as tar:
            source = tar.extractfile("package/axe.min.js")
            assert source is not None
            target.write_bytes(source.read())
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)


def source() -> str:
    return ensure_file(CACHE, _fetch).read_text()


def serious_violations(page: Any) -> list[str]:
    """What axe finds serious or critical on the page as it is (WCAG 2.1 A and AA rules)."""
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]
