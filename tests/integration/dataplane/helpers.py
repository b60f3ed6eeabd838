"""Small helpers shared by the data-plane tests."""

from __future__ import annotations

import uuid

from tests.conftest import Env


def new_tenant(env: Env, *options: str) -> str:
    name = f"t{uuid.uuid4().hex[:8]}"
    env.run("tenant", "create", name, *options)
    return name


def create_pod(env: Env, ref: str, image: str, *options: str) -> dict:
    """``pod create`` of a generic pod on ``image`` (health on /readyz); returns its status."""
    env.run(
        "pod",
        "create",
        ref,
        "--type",
        "generic",
        "--image",
        image,
        "--set",
        "health_path=/readyz",
        "--memory",
        "64m",
        *options,
    )
    return env.json("pod", "status", ref)
