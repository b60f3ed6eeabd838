"""The LLM gateway's use cases through the API: the same answers as the CLI's JSON, keys taken
and never given back, problem+json refusals, and the routes in the OpenAPI document."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agentpod.control.llm import llm_store
from agentpod.services.llm_store import UsageRow
from tests.conftest import Env
from tests.support.api import Api

URL = "http://127.0.0.1:9/v1"


def _usage_row(tenant: str, pod: str, tokens: int) -> UsageRow:
    return UsageRow(
        at=datetime.now(UTC),
        tenant=tenant,
        pod=pod,
        pod_id=0,
        provider="oai",
        model="gpt-x",
        status=200,
        input_tokens=tokens,
        output_tokens=tokens // 2,
        cached_tokens=0,
        latency_ms=12.5,
        ttft_ms=3.5,
        cost_usd=0.0,
    )


def test_providers_usage_budgets_and_prices(api: Api, agentpod_env: Env, tenant: str) -> None:
    admin = api.session("admin")
    assert admin.post("/api/v1/tenants", json={"name": tenant}).status_code == 201
    key = f"sk-api-{uuid.uuid4().hex}"
    body = {"name": "oai", "kind": "openai", "base_url": URL + "/", "key": key}
    added = admin.post(f"/api/v1/tenants/{tenant}/llm/providers", json=body)
    assert added.status_code == 201, added.text
    assert key not in added.text and added.json()["key"] == f"…{key[-4:]}"
    listed = admin.get(f"/api/v1/tenants/{tenant}/llm/providers")
    cli = agentpod_env.json("llm", "provider", "list", "--tenant", tenant)
    assert listed.json() == cli and cli[0]["base_url"] == URL and key not in listed.text
    again = admin.post(f"/api/v1/tenants/{tenant}/llm/providers", json=body)
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    bad = admin.post(f"/api/v1/tenants/{tenant}/llm/providers", json={**body, "name": "Bad!"})
    assert bad.status_code == 400 and key not in bad.text  # as the CLI: exit 1
    new = f"sk-new-{uuid.uuid4().hex}"
    rotated = admin.put(f"/api/v1/tenants/{tenant}/llm/providers/oai/key", json={"key": new})
    assert rotated.status_code == 200 and rotated.json()["key"] == f"…{new[-4:]}"

    # usage: the CLI's rows, with its filters
    llm_store(api.ctx).record_usage([_usage_row(tenant, "a", 10), _usage_row(tenant, "b", 20)])
    got = admin.get(f"/api/v1/tenants/{tenant}/llm/usage", params={"since": "1h"}).json()
    assert got == agentpod_env.json("llm", "usage", "--tenant", tenant, "--since", "1h")
    assert {(r["pod"], r["requests"], r["input_tokens"], r["output_tokens"]) for r in got} == {
        (f"{tenant}/a", 1, 10, 5),
        (f"{tenant}/b", 1, 20, 10),
    }
    one = admin.get(f"/api/v1/tenants/{tenant}/llm/usage", params={"pod": "b", "by_day": True})
    assert [(r["pod"], "day" in r) for r in one.json()] == [(f"{tenant}/b", True)]
    wrong = admin.get(f"/api/v1/tenants/{tenant}/llm/usage", params={"since": "soon"})
    assert wrong.status_code == 400 and "--since" in wrong.json()["detail"]

    # budgets: set, lift, read
    limits = {"requests_per_minute": 60, "daily_usd": 5}
    budget = admin.patch(f"/api/v1/tenants/{tenant}/llm/budget", json=limits)
    assert budget.status_code == 200 and budget.json()["requests_per_minute"] == 60
    lifted = admin.patch(f"/api/v1/tenants/{tenant}/llm/budget", json={"daily_usd": None})
    assert lifted.json()["daily_usd"] is None and lifted.json()["requests_per_minute"] == 60
    shown = admin.get(f"/api/v1/tenants/{tenant}/llm/budgets").json()
    assert shown == agentpod_env.json("llm", "budget", "show", tenant)
    empty = admin.patch(f"/api/v1/tenants/{tenant}/llm/budget", json={})
    assert empty.status_code == 400

    # prices
    model = f"m-{uuid.uuid4().hex[:6]}"
    price = {"input_usd_per_mt": 2.5, "output_usd_per_mt": 10}
    assert admin.put(f"/api/v1/llm/prices/{model}", json=price).status_code == 200
    assert {**price, "model": model} in admin.get("/api/v1/llm/prices").json()
    assert admin.delete(f"/api/v1/llm/prices/{model}").status_code == 204
    assert admin.delete(f"/api/v1/llm/prices/{model}").status_code == 404

    assert admin.get(f"/api/v1/tenants/{tenant}/llm/keys").json() == []
    assert admin.delete(f"/api/v1/tenants/{tenant}/llm/providers/oai").status_code == 204
    assert admin.get(f"/api/v1/tenants/{tenant}/llm/providers").json() == []
    audit = agentpod_env.run("audit", "--tail", "200", "--format", "json").stdout
    assert "llm.provider.rotate" in audit and key not in audit and new not in audit
    assert admin.delete(f"/api/v1/tenants/{tenant}").status_code == 204


def test_platform_providers_through_the_api(api: Api, tenant: str) -> None:
    admin = api.session("admin")
    assert admin.post("/api/v1/tenants", json={"name": tenant}).status_code == 201
    name = f"x{uuid.uuid4().hex[:8]}"
    key = f"sk-plat-{uuid.uuid4().hex}"
    body = {"name": name, "kind": "anthropic", "base_url": URL, "key": key}
    made = admin.post("/api/v1/llm/providers", json=body)
    assert made.status_code == 201 and made.json()["tenants"] == [] and key not in made.text
    assert admin.put(f"/api/v1/llm/providers/{name}/tenants/{tenant}").json() == {"warnings": []}
    mine = admin.get(f"/api/v1/tenants/{tenant}/llm/providers").json()
    assert [(p["name"], p["platform"], p["kind"]) for p in mine] == [(name, True, "anthropic")]
    listed = {p["name"]: p for p in admin.get("/api/v1/llm/providers").json()}
    assert listed[name]["tenants"] == [tenant]
    # the tenant's own provider of that name wins
    own = {**body, "kind": "openai", "key": "sk-own-123456789"}
    assert admin.post(f"/api/v1/tenants/{tenant}/llm/providers", json=own).status_code == 201
    mine = admin.get(f"/api/v1/tenants/{tenant}/llm/providers").json()
    assert [(p["name"], p["platform"], p["kind"]) for p in mine] == [(name, False, "openai")]
    clash = admin.put(f"/api/v1/llm/providers/{name}/tenants/{tenant}").json()
    assert "its own provider" in clash["warnings"][0]
    assert admin.delete(f"/api/v1/llm/providers/{name}/tenants/{tenant}").status_code == 204
    gone = admin.delete(f"/api/v1/llm/providers/{name}/tenants/{tenant}")
    assert gone.status_code == 404 and gone.headers["content-type"] == "application/problem+json"
    assert admin.delete(f"/api/v1/llm/providers/{name}").status_code == 204
    assert admin.delete(f"/api/v1/tenants/{tenant}", params={"force": True}).status_code == 204


def test_the_llm_routes_are_documented(api: Api) -> None:
    paths = api.client().get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/tenants/{tenant}/llm/providers",
        "/api/v1/tenants/{tenant}/llm/usage",
        "/api/v1/tenants/{tenant}/llm/budget",
        "/api/v1/llm/providers/{name}/tenants/{tenant}",
        "/api/v1/llm/prices/{model}",
    ):
        assert path in paths
