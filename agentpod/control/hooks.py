"""What the control loop tells its observers: passes, restarts, probes, event-stream
reconnects. These hooks do nothing; ``agentpod serve`` plugs in its metrics
(``agentpod.control.metrics``), so a CLI command never imports a metrics library."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentpod.control.reconciler import Outcome
    from agentpod.core.models import Pod


class Hooks:
    def passed(self, seconds: float, full: bool, outcomes: Sequence[Outcome]) -> None:
        """A reconcile pass ended (``full``: every pod, else the pods that were triggered)."""

    def restarted(self, pod: Pod, reason: str) -> None:
        """A pod that should run lost its container (``exited``, ``missing``, ``failed``: the
        reconciler brings it back) or was restarted for failing its checks (``unhealthy``)."""

    def probed(self, pod: Pod, seconds: float, ok: bool) -> None:
        """A health probe of the pod answered (or failed) after ``seconds``."""

    def reconnected(self) -> None:
        """The Docker event stream was lost and subscribed to again."""
