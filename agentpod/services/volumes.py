"""A pod's data volume as a tar, out and back in, through a container that mounts the volume
and is never started (so the pod's image may have a read-only root fs, no shell, any user)."""

from __future__ import annotations

import contextlib
from pathlib import Path, PurePosixPath
from typing import Any

from agentpod.core.spec import INSTANCE, MANAGED
from agentpod.services.docker_runtime import DockerRuntime, NotFound


class Volumes:
    def __init__(self, runtime: DockerRuntime) -> None:
        self.runtime = runtime

    @property
    def _api(self) -> Any:
        return self.runtime.client.api

    def exists(self, volume: str) -> bool:
        """A named volume on the engine, or a host path (an adopted pod's bind mount)."""
        if volume.startswith("/"):
            return Path(volume).exists()
        try:
            self._api.inspect_volume(volume)
        except NotFound:
            return False
        return True

    def container_exists(self, name: str) -> bool:
        return bool(self._api.containers(all=True, filters={"name": f"^/{name}$"}))

    def export(self, volume: str, mount: str, image: str, dest: Path) -> None:
        """The tar of ``mount`` (its top entry is the mount's own directory) into ``dest``."""
        with self.runtime.mounted(image, volume, mount, "backup") as helper:
            stream, _ = self._api.get_archive(helper, mount)
            with dest.open("wb") as out:
                for chunk in stream:
                    out.write(chunk)

    def replace(self, volume: str, mount: str, image: str, data: Path) -> None:
        """Make ``volume`` hold exactly the exported tar ``data`` (a host path gets the files
        written over it; nothing else there is removed)."""
        api = self._api
        if not volume.startswith("/"):
            with contextlib.suppress(NotFound):
                api.remove_volume(volume, force=True)
            api.create_volume(volume, labels={MANAGED: "true", INSTANCE: self.runtime.instance})
        with self.runtime.mounted(image, volume, mount, "restore") as helper, data.open("rb") as fh:
            api.put_archive(helper, str(PurePosixPath(mount).parent), fh)

    def remove(self, volume: str) -> None:
        if not volume.startswith("/"):
            self.runtime.remove_volume(volume)
