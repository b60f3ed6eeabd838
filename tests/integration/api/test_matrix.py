"""The authorization matrix: every resource route, every kind of caller, its own tenant or
another one -> the status the rules give (another tenant's objects are 404, never 403).

Writes are chosen so that a permitted call changes nothing expensive (stopping a stopped pod,
setting what is already set) or ends in a telling refusal (409), so each route is tried by
every caller on the same two pods.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from agentpod.control import llm, pods, tenants
from tests.support.api import ROOT, Api

TENANT_SCOPES = ["pods:read", "pods:write", "tenants:read", "tenants:write", "audit:read"]
ACTORS = ["admin", "operator", "member", "viewer", "admin_key_t1", "member_key_ro", "anonymous"]


@dataclass
class World:
    own: str
    other: str
    clients: dict[str, httpx.Client]
    platform: str  # a platform LLM provider (names are unique in the database)


@pytest.fixture(scope="module")
def world(api: Api, test_image: str) -> Iterator[World]:
    own, other = (f"m{uuid.uuid4().hex[:8]}" for _ in range(2))
    for name in (own, other):
        tenants.create(api.ctx, ROOT, name)
        request = pods.PodRequest(
            adapter="generic", image=test_image, memory="64m", config={"health_path": "/readyz"}
        )
        pods.create(api.ctx, ROOT, f"{name}/agent", request)
        pods.stop(api.ctx, ROOT, f"{name}/agent")
        llm.add_provider(api.ctx, ROOT, name, "p0", "openai", PROVIDER_URL, "sk-matrix-0")
    platform = f"x{uuid.uuid4().hex[:8]}"
    llm.add_provider(api.ctx, ROOT, None, platform, "openai", PROVIDER_URL, "sk-matrix-1")
    admin, member = api.user("admin"), api.user("member", [own])
    clients = {
        "admin": api.session("admin"),
        "operator": api.session("operator"),
        "member": api.session("member", [own]),
        "viewer": api.session("viewer", [own]),
        "admin_key_t1": api.bearer(api.key(admin, TENANT_SCOPES, own)),
        "member_key_ro": api.bearer(api.key(member, ["pods:read", "tenants:read"])),
        "anonymous": api.client(),
    }
    try:
        yield World(own, other, clients, platform)
    finally:
        llm.remove_provider(api.ctx, ROOT, None, platform)
        for client in clients.values():
            client.close()
        for name in (own, other):
            tenants.delete(api.ctx, ROOT, name, force=True)


def _expect(rule: str, ok: int) -> dict[str, tuple[int, int]]:
    """(own tenant, other tenant) status per actor for a route of kind ``rule`` that answers
    ``ok`` when permitted."""
    sees_all = (ok, ok)
    own_only = (ok, 404)
    rules = {
        "read": dict.fromkeys(ACTORS[:6], own_only) | {"admin": sees_all, "operator": sees_all},
        "pods:write": {
            "admin": sees_all,
            "operator": sees_all,
            "member": own_only,
            "viewer": (403, 404),
            "admin_key_t1": own_only,
            "member_key_ro": (403, 404),
        },
        "tenants:write": {
            "admin": sees_all,
            "operator": sees_all,
            "member": (403, 404),
            "viewer": (403, 404),
            "admin_key_t1": own_only,
            "member_key_ro": (403, 404),
        },
    }
    return {**rules[rule], "anonymous": (401, 401)}


PROVIDER_URL = "http://127.0.0.1:9/v1"
PRICE = {"input_usd_per_mt": 1, "output_usd_per_mt": 2}
NEW_PROVIDER = {"name": "p0", "kind": "openai", "base_url": PROVIDER_URL, "key": "sk-matrix-2"}
NEW_POD = {"name": "agent", "type": "generic", "image": "example/agent:1"}
TENANT_ROUTES = [  # method, path (T: the tenant), body, rule, status when permitted
    ("GET", "/tenants/T", None, "read", 200),
    ("GET", "/tenants/T/pods", None, "read", 200),
    ("GET", "/tenants/T/pods/agent", None, "read", 200),
    ("GET", "/tenants/T/pods/agent/config", None, "read", 200),
    ("GET", "/tenants/T/pods/agent/config/schema", None, "read", 200),
    ("GET", "/tenants/T/pods/agent/logs?tail=5", None, "read", 200),
    ("GET", "/tenants/T/pods/agent/usage?minutes=30", None, "read", 200),
    ("GET", "/tenants/T/pods/agent/devices", None, "read", 409),  # generic: no pairing
    ("GET", "/events?tenant=T", None, "read", 200),
    ("GET", "/tenants/T/health", None, "read", 200),  # its pod is stopped: nothing to probe
    ("POST", "/tenants/T/pods/agent/stop", None, "pods:write", 200),
    ("POST", "/tenants/T/pods/agent/restart", None, "pods:write", 409),  # stopped
    ("PATCH", "/tenants/T/pods/agent", {"memory": "64m"}, "pods:write", 200),
    ("PUT", "/tenants/T/pods/agent/config", {"health_path": "/readyz"}, "pods:write", 200),
    ("PATCH", "/tenants/T/pods/agent/config", {}, "pods:write", 200),  # changes nothing
    ("GET", "/tenants/T/pods/agent/token", None, "pods:write", 409),  # generic: no token
    ("POST", "/tenants/T/pods/agent/devices/r1/approve", None, "pods:write", 409),
    ("POST", "/tenants/T/pods", NEW_POD, "pods:write", 409),  # it exists
    ("PATCH", "/tenants/T", {"rate_average": 100}, "tenants:write", 200),
    ("DELETE", "/tenants/T", None, "tenants:write", 409),  # still has a pod
    ("GET", "/tenants/T/members", None, "tenants:write", 200),
    ("DELETE", "/tenants/T/members/nobody-here", None, "tenants:write", 404),  # no such user
    ("GET", "/tenants/T/llm/providers", None, "read", 200),
    ("GET", "/tenants/T/llm/usage?since=24h", None, "read", 200),
    ("GET", "/tenants/T/llm/keys", None, "read", 200),
    ("GET", "/tenants/T/llm/budgets", None, "read", 200),
    ("POST", "/tenants/T/llm/providers", NEW_PROVIDER, "tenants:write", 409),  # it exists
    ("PUT", "/tenants/T/llm/providers/p0/key", {"key": "sk-matrix-0"}, "tenants:write", 200),
    ("DELETE", "/tenants/T/llm/providers/nope", None, "tenants:write", 404),
    ("PATCH", "/tenants/T/llm/budget", {"requests_per_minute": 10000}, "tenants:write", 200),
    ("PATCH", "/tenants/T/pods/agent/llm/budget", {"daily_usd": None}, "tenants:write", 200),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "rule", "ok"),
    TENANT_ROUTES,
    ids=[f"{m} {p}" for m, p, *_ in TENANT_ROUTES],
)
def test_tenant_routes(
    world: World, method: str, path: str, body: dict | None, rule: str, ok: int
) -> None:
    wrong = []
    for actor, (own, other) in _expect(rule, ok).items():
        for tenant, expected in ((world.own, own), (world.other, other)):
            url = "/api/v1" + path.replace("T", tenant, 1).replace("=T", f"={tenant}")
            response = world.clients[actor].request(method, url, json=body)
            if response.status_code != expected:
                which = "own" if tenant == world.own else "other"
                got = f"{response.status_code} (want {expected}) {response.text[:120]}"
                wrong.append(f"{actor} {which}: {got}")
            elif expected >= 400:
                assert response.headers["content-type"] == "application/problem+json"
    assert not wrong, "\n".join(wrong)


GLOBAL_ROUTES = [  # method, path, body, status per actor (in ACTORS order)
    ("GET", "/me", None, [200, 200, 200, 200, 200, 200, 401]),
    ("GET", "/tenants", None, [200, 200, 200, 200, 200, 200, 401]),
    ("GET", "/adapters", None, [200, 200, 200, 200, 200, 200, 401]),
    ("GET", "/apikeys", None, [200, 200, 200, 200, 200, 200, 401]),
    ("GET", "/users", None, [200, 403, 403, 403, 403, 403, 401]),
    ("GET", "/audit", None, [200, 200, 403, 403, 200, 403, 401]),
    ("GET", "/health", None, [200, 200, 200, 200, 200, 200, 200]),
    ("GET", "/llm/prices", None, [200, 200, 200, 200, 200, 200, 401]),
    ("GET", "/llm/providers", None, [200, 200, 403, 403, 403, 403, 401]),
    # prices and platform providers span every tenant: a key bound to one tenant is refused
    ("PUT", "/llm/prices/matrix-model", PRICE, [200, 200, 403, 403, 403, 403, 401]),
    ("DELETE", "/llm/prices/no-such-model", None, [404, 404, 403, 403, 403, 403, 401]),
    ("PUT", "/llm/providers/P/key", {"key": "sk-matrix-1"}, [200, 200, 403, 403, 403, 403, 401]),
    ("POST", "/llm/providers", {**NEW_PROVIDER, "name": "P"}, [409, 409, 403, 403, 403, 403, 401]),
    ("PUT", "/llm/providers/P/tenants/T", None, [200, 200, 403, 403, 403, 403, 401]),
    ("DELETE", "/llm/providers/P/tenants/O", None, [404, 404, 403, 403, 403, 403, 401]),
    ("DELETE", "/llm/providers/nope", None, [404, 404, 403, 403, 403, 403, 401]),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "statuses"),
    GLOBAL_ROUTES,
    ids=[f"{m} {p}" for m, p, *_ in GLOBAL_ROUTES],
)
def test_global_routes(
    world: World, method: str, path: str, body: dict | None, statuses: list[int]
) -> None:
    names = {"P": world.platform, "T": world.own, "O": world.other}
    path = "/".join(names.get(part, part) for part in path.split("/"))
    if body and body.get("name") == "P":
        body = {**body, "name": world.platform}
    got = [
        world.clients[a].request(method, "/api/v1" + path, json=body).status_code for a in ACTORS
    ]
    assert dict(zip(ACTORS, got, strict=True)) == dict(zip(ACTORS, statuses, strict=True))


def test_creating_an_existing_tenant(world: World) -> None:
    body = {"name": world.own}
    got = {a: world.clients[a].post("/api/v1/tenants", json=body).status_code for a in ACTORS}
    assert got == {
        "admin": 409,
        "operator": 409,
        "member": 403,
        "viewer": 403,
        "admin_key_t1": 403,  # a key bound to one tenant makes no tenant, not even that one
        "member_key_ro": 403,
        "anonymous": 401,
    }


def test_lists_hold_only_what_the_caller_sees(world: World) -> None:
    def names(actor: str, path: str) -> set[str]:
        return {t["name"] for t in world.clients[actor].get("/api/v1" + path).json()}

    assert {world.own, world.other} <= names("operator", "/tenants")
    assert names("member", "/tenants") == {world.own}
    assert names("admin_key_t1", "/tenants") == {world.own}
    events = world.clients["viewer"].get("/api/v1/events", params={"tail": 1000}).json()
    assert {e["pod"].split("/")[0] for e in events} == {world.own}
