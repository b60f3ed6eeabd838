"""Operators (not only admins) manage who belongs to a tenant, through the API and the CLI;
a membership given is a tenant seen at the member's next request."""

from __future__ import annotations

import uuid

from agentpod.control import tenants
from tests.conftest import Env
from tests.support.api import PASSWORD, ROOT, Api


def _names(body: dict) -> list[str]:
    return [m["name"] for m in body["members"]]


def test_an_operator_adds_and_removes_members(api: Api, agentpod_env: Env) -> None:
    tenant = f"m{uuid.uuid4().hex[:8]}"
    tenants.create(api.ctx, ROOT, tenant)
    newcomer, viewer, operator = api.user("member"), api.user("viewer"), api.user("operator")
    op = api.session("operator")
    base = f"/api/v1/tenants/{tenant}/members"
    listed = op.get(base).json()
    assert listed["members"] == [] and newcomer in listed["others"]
    assert operator not in listed["others"]  # sees every tenant already

    them = api.client()
    login = {"username": newcomer, "password": PASSWORD}
    assert them.post("/api/v1/auth/login", json=login).status_code == 200
    assert them.get(f"/api/v1/tenants/{tenant}").status_code == 404

    added = op.put(f"{base}/{newcomer}")
    assert added.status_code == 200 and _names(added.json()) == [newcomer], added.text
    assert them.get(f"/api/v1/tenants/{tenant}").status_code == 200  # at once
    refused = op.put(f"{base}/{operator}")
    assert refused.status_code == 422 and "sees every tenant already" in refused.json()["detail"]

    cli = agentpod_env.json("tenant", "members", tenant, "--add", viewer)
    assert sorted(_names(cli)) == sorted([newcomer, viewer])
    assert op.delete(f"{base}/{newcomer}").json()["members"] == [{"name": viewer, "role": "viewer"}]
    assert them.get(f"/api/v1/tenants/{tenant}").status_code == 404
    shown = agentpod_env.run("tenant", "members", tenant, "--remove", viewer).stdout
    assert viewer not in shown

    member = api.session("member", [tenant])  # a member may not change who belongs
    assert member.put(f"{base}/{newcomer}").status_code == 403
    audit = agentpod_env.json("audit", "--tail", "100")
    mine = [(r["action"], r["outcome"]) for r in audit if r["target"] == tenant]
    assert ("tenant.members", "ok") in mine and ("tenant.members", "refused") in mine, mine
    tenants.delete(api.ctx, ROOT, tenant)
