"""Tenants and pods through the API, against the real engine: the pod's JSON is the CLI's,
changes reach the container, events arrive live (SSE) when the CLI changes a pod."""

from __future__ import annotations

import json
import threading
from datetime import datetime

import httpx

from tests.conftest import Env
from tests.support.api import Api
from tests.support.proc import wait_until


def _pod(client: httpx.Client, tenant: str) -> dict:
    response = client.get(f"/api/v1/tenants/{tenant}/pods/agent")
    assert response.status_code == 200, response.text
    return response.json()


def _sse_events(response: httpx.Response, wanted: str, found: list[dict]) -> None:
    for line in response.iter_lines():
        if line.startswith("data: "):
            found.append(json.loads(line[len("data: ") :]))
            if found[-1]["type"] == wanted:
                return


def test_a_pod_through_the_api(api: Api, agentpod_env: Env, tenant: str, test_image: str) -> None:
    admin = api.session("admin")
    made = admin.post("/api/v1/tenants", json={"name": tenant, "rate_average": 50})
    assert made.status_code == 201, made.text
    assert made.json()["settings"]["rate_average"] == 50 and "usage" in made.json()
    body = {
        "name": "agent",
        "type": "generic",
        "image": test_image,
        "memory": "64m",
        "config": {"health_path": "/readyz"},
    }
    created = admin.post(f"/api/v1/tenants/{tenant}/pods", json=body)
    assert created.status_code == 201, created.text
    cli = agentpod_env.json("pod", "status", f"{tenant}/agent")
    assert set(created.json()) == {*cli, "warnings"}
    assert wait_until(lambda: _pod(admin, tenant)["actual_status"] == "running", 60)
    assert _pod(admin, tenant)["memory_mb"] == 64

    # live events: the CLI stops the pod, the stream says so
    found: list[dict] = []
    stream_url = f"/api/v1/events/stream?tenant={tenant}"
    with admin.stream("GET", stream_url, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = threading.Thread(target=_sse_events, args=(response, "desired.stopped", found))
        reader.start()
        agentpod_env.run("pod", "stop", f"{tenant}/agent")
        reader.join(30)
    assert found and found[-1]["type"] == "desired.stopped", found
    assert found[-1]["pod"] == f"{tenant}/agent"

    started = admin.post(f"/api/v1/tenants/{tenant}/pods/agent/start")
    assert started.json()["desired_status"] == "running"
    patched = admin.patch(
        f"/api/v1/tenants/{tenant}/pods/agent/config", json={"env": {"GREETING": "hi"}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["config"] == {"health_path": "/readyz", "env": {"GREETING": "hi"}}
    assert agentpod_env.json("config", "get", f"{tenant}/agent")["env"] == {"GREETING": "hi"}
    bad = admin.put(f"/api/v1/tenants/{tenant}/pods/agent/config", json={"port": "x"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    logs = admin.get(f"/api/v1/tenants/{tenant}/pods/agent/logs", params={"tail": 10})
    assert logs.status_code == 200 and logs.headers["content-type"].startswith("text/plain")

    gone = admin.delete(f"/api/v1/tenants/{tenant}/pods/agent")
    assert gone.status_code == 202, gone.text
    wait_until(lambda: admin.get(f"/api/v1/tenants/{tenant}/pods/agent").status_code == 404, 60)
    assert admin.delete(f"/api/v1/tenants/{tenant}").status_code == 204


def test_quota_refusals_are_conflicts(api: Api, tenant: str) -> None:
    admin = api.session("admin")
    admin.post("/api/v1/tenants", json={"name": tenant})
    limited = admin.patch(f"/api/v1/tenants/{tenant}", json={"max_pods": 0})
    assert limited.status_code == 200, limited.text
    assert limited.json()["quota"]["max_pods"] == 0
    body = {"name": "agent", "type": "generic", "image": "example/agent:1"}
    refused = admin.post(f"/api/v1/tenants/{tenant}/pods", json=body)
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"].endswith(
        f"raise it with agentpod tenant set {tenant} --max-pods N"
    )
    lifted = admin.patch(f"/api/v1/tenants/{tenant}", json={"max_pods": None, "pool": None})
    assert lifted.json()["quota"]["max_pods"] is None and lifted.json()["settings"]["pool"] is None
    assert admin.delete(f"/api/v1/tenants/{tenant}").status_code == 204


def test_adapters_come_with_their_json_schema(api: Api) -> None:
    client = api.session("viewer")
    listed = client.get("/api/v1/adapters").json()
    assert {"openclaw", "open-webui", "generic"} <= {a["id"] for a in listed}
    generic = client.get("/api/v1/adapters/generic").json()
    assert generic["config_schema"]["properties"]["port"]["type"] == "integer"
    missing = client.get("/api/v1/adapters/nope")
    assert missing.status_code == 404 and "unknown agent type" in missing.json()["detail"]


def test_bad_input_is_a_one_line_problem(api: Api, tenant: str) -> None:
    admin = api.session("admin")
    cases = [
        ("POST", "/api/v1/tenants", {"name": "Not A Label"}, 422),
        ("POST", "/api/v1/tenants", {"name": tenant, "rate_average": 0}, 422),
        ("POST", "/api/v1/tenants", {"name": tenant, "pool": "zone=eu"}, 422),  # one engine
        ("GET", "/api/v1/tenants/UPPER/pods", None, 422),
        ("POST", "/api/v1/tenants", [1, 2], 422),
        ("GET", "/api/v1/tenants/nope-none", None, 404),
        ("DELETE", "/api/v1/tenants", None, 405),
    ]
    for method, url, body, status in cases:
        response = admin.request(method, url, json=body)
        assert response.status_code == status, (url, response.text)
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["status"] == status and "\n" not in problem["detail"]


def test_logs_follow_as_server_sent_events(api: Api, tenant: str, test_image: str) -> None:
    admin = api.session("admin")
    admin.post("/api/v1/tenants", json={"name": tenant})
    ticker = ["sh", "-c", "while true; do echo tick; sleep 0.2; done"]
    body = {
        "name": "ticker",
        "type": "generic",
        "image": test_image,
        "memory": "32m",
        "config": {"command": ticker},
    }
    assert admin.post(f"/api/v1/tenants/{tenant}/pods", json=body).status_code == 201
    url = f"/api/v1/tenants/{tenant}/pods/ticker/logs"
    wait_until(lambda: "tick" in admin.get(url, params={"tail": 5}).text, 60)
    lines = []
    with admin.stream("GET", url, params={"tail": 1, "follow": True}, timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                lines.append(line)
            if len(lines) == 3:
                break
    assert lines == ["data: tick"] * 3
    assert admin.delete(f"/api/v1/tenants/{tenant}", params={"force": True}).status_code == 204


LIVE_FIELDS = {"actual_status", "ready", "health", "last_health_at", "container_id"}
LIVE_FIELDS |= {"memory_bytes", "cpu_percent", "last_error", "attempts"}


def _stable(pod: dict) -> dict:
    """A pod's JSON without what the reconciler may change between two reads."""
    kept = {k: v for k, v in pod.items() if k not in LIVE_FIELDS}
    return {**kept, "created_at": datetime.fromisoformat(pod["created_at"])}


def test_the_pod_list_pages_and_agrees_with_each_pod(
    api: Api, agentpod_env: Env, tenant: str, test_image: str
) -> None:
    admin = api.session("admin")
    assert admin.post("/api/v1/tenants", json={"name": tenant}).status_code == 201
    try:
        _pages_agree(admin, agentpod_env, tenant, test_image)
    finally:  # the env is shared: a backup test counts every pod in it
        agentpod_env.run("tenant", "delete", tenant, "--force", "--yes")


def _pages_agree(admin: httpx.Client, env: Env, tenant: str, image: str) -> None:
    for name in ("c", "a", "b"):
        env.run(
            "pod", "create", f"{tenant}/{name}", "--type", "generic", "--image", image,
            "--memory", "32m", "--no-wait",
        )  # fmt: skip
    url = f"/api/v1/tenants/{tenant}/pods"
    listed = admin.get(url).json()
    assert [p["ref"] for p in listed] == [f"{tenant}/a", f"{tenant}/b", f"{tenant}/c"]
    assert [p["name"] for p in admin.get(url, params={"limit": 1, "offset": 1}).json()] == ["b"]
    assert admin.get(url, params={"offset": 3}).json() == []
    # the list is encoded by the database, one pod by the API: the same JSON
    for pod in listed:
        one = admin.get(f"{url}/{pod['name']}").json()
        assert _stable(pod) == _stable(one)
        assert pod["url"].startswith("http") and pod["subdomain"] in pod["url"]
