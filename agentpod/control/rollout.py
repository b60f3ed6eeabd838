"""A health-gated rollout of a new image over many pods: one canary, then batches in parallel.

A batch is recreated on the new image and waited for (running and healthy) as a whole. The
first batch with a pod that does not make it ends the rollout: its failed pods go back to the
image they had, its healthy ones keep the new one, and the pods after it are not touched.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from agentpod.control.context import Context
from agentpod.core.models import DesiredStatus, Pod

SNAPSHOTS_AT_ONCE = 4  # a batch's pods are snapshotted and moved to the new image side by side


@dataclass
class RolloutResult:
    image: str
    upgraded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # pod -> why
    rolled_back: list[str] = field(default_factory=list)
    untouched: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def failure(self) -> str | None:
        """Why the rollout stopped and where it left the pods (None: it did not)."""
        if self.ok:
            return None
        return (
            f"rollout stopped: {'; '.join(self.failed.values())}. Rolled back to the old "
            f"image: {', '.join(self.rolled_back) or 'none'}; {len(self.upgraded)} pod(s) "
            f"on {self.image}, {len(self.untouched)} not touched"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "image": self.image,
            "ok": self.ok,
            "upgraded": self.upgraded,
            "failed": self.failed,
            "rolled_back": self.rolled_back,
            "untouched": self.untouched,
        }


def batches(pods: list[Pod], parallel: int) -> list[list[Pod]]:
    """A canary of one pod, then groups of ``parallel``."""
    rest = pods[1:]
    return [pods[:1], *(rest[i : i + parallel] for i in range(0, len(rest), parallel))]


def rollout(
    ctx: Context,
    pods: list[Pod],
    image: str,
    parallel: int = 8,
    timeout: float = 300,
    wait: bool = True,
    progress: Callable[[str, bool], None] | None = None,
    set_image: Callable[[Pod, str], Pod] | None = None,
) -> RolloutResult:
    """Move ``pods`` to ``image`` batch by batch; stop at the first batch that fails.
    ``set_image`` records a pod's new image (the store's, unless the caller first snapshots)."""
    set_image = set_image or ctx.store.set_image
    result = RolloutResult(image)
    todo = batches(pods, max(1, parallel)) if pods else []
    for n, batch in enumerate(todo):
        old = {p.id: p.image for p in batch}
        with ThreadPoolExecutor(min(len(batch), SNAPSHOTS_AT_ONCE)) as pool:
            moved = list(pool.map(lambda p: set_image(p, image) if p.image != image else p, batch))
        ctx.apply(moved)
        gated = [p for p in moved if wait and p.desired_status is DesiredStatus.RUNNING]
        errors = ctx.wait_all(gated, timeout) if gated else {}
        for p in moved:
            if p.id in errors:
                result.failed[str(p.ref)] = errors[p.id]
            else:
                result.upgraded.append(str(p.ref))
            if progress:
                progress(str(p.ref), p.id not in errors)
        if errors:
            _roll_back([p for p in moved if p.id in errors], old, ctx, result)
            result.untouched = [str(p.ref) for b in todo[n + 1 :] for p in b]
            break
    return result


def _roll_back(pods: list[Pod], old: dict[int, str], ctx: Context, result: RolloutResult) -> None:
    """Put failed pods back on the image they had (not waited for: the loop converges them)."""
    back = [ctx.store.set_image(p, old[p.id]) for p in pods if old[p.id] != p.image]
    ctx.apply(back)
    result.rolled_back = [str(p.ref) for p in back]
