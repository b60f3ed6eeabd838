"""A real OpenClaw agent turn through AgentPod's LLM gateway (LIVE=1): the tenant has a (fake)
provider, the pod's openclaw.json names the gateway and the pod's virtual key, the fake
provider on the host answers with the real key in hand, and usage shows the turn."""

from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path

import docker
import pytest

from tests.conftest import fresh_env
from tests.support.fakellm import FakeProvider
from tests.support.proc import serving, wait_until

pytestmark = [
    pytest.mark.live,
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("LIVE") != "1", reason="live tests need LIVE=1"),
]

SETTINGS = {
    "agents": {"defaults": {"model": {"primary": "fake/fake-model"}}},
    "models": {"providers": {"fake": {"models": [{"id": "fake-model", "name": "Fake model"}]}}},
}


def test_an_openclaw_agent_turn_goes_through_the_gateway(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    from tests.live.images.openclaw.build import ensure_openclaw_image

    image = ensure_openclaw_image()
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        port = str(s.getsockname()[1])
    fake = FakeProvider(gap_s=0.01).start()
    real_key = f"sk-live-{uuid.uuid4().hex}"
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"settings": SETTINGS}))
    try:
        with fresh_env(docker_client, AGENTPOD_LLM_GATEWAY_PORT=port) as env:
            tenant = f"oc{uuid.uuid4().hex[:8]}"
            env.run("tenant", "create", tenant)
            env.run(
                *("llm", "provider", "add", "fake", "--tenant", tenant, "--kind", "openai"),
                *("--base-url", f"{fake.url}/v1", "--key-stdin"),
                input=real_key,
            )
            with serving(env.env):
                ref = f"{tenant}/gw"
                env.run(
                    *("pod", "create", ref, "--type", "openclaw", "--image", image),
                    *("--config", str(config), "--timeout", "600"),
                    timeout=700,
                )
                container = docker_client.containers.get(f"agentpod-{tenant}-gw")
                argv = ["openclaw", "agent", "--agent", "main", "--message", "say hi", "--json"]
                code, out = container.exec_run(argv, user="1000:1000")
                text = out.decode(errors="replace")
                assert code == 0, text
                assert "part0 part1 part2 part3 part4" in text  # the fake's streamed answer
                asked = [s for s in fake.seen if s.path == "/v1/chat/completions"]
                assert asked and asked[-1].headers["Authorization"] == f"Bearer {real_key}"
                rows = wait_until(lambda: env.json("llm", "usage", "--tenant", tenant), 10)
                assert rows and rows[0]["pod"] == ref and rows[0]["provider"] == "fake"
                assert rows[0]["requests"] >= 1
                if json.loads(asked[-1].body).get("stream_options", {}).get("include_usage"):
                    assert rows[0]["input_tokens"] >= 11 and rows[0]["output_tokens"] >= 7
                inspect = json.dumps(container.attrs)
                assert real_key not in inspect and real_key not in text
    finally:
        fake.stop()
