"""A pod's secret config fields through the API: masked when read or written, revealed with
pods:write only (audited)."""

from __future__ import annotations

import uuid

from agentpod.control import pods, tenants
from tests.support.api import ROOT, Api


def test_secret_fields_are_masked_unless_revealed(api: Api, tenant: str, test_image: str) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    tenants.create(api.ctx, ROOT, tenant)
    config = {"health_path": "/readyz", "secret_env": {"TOKEN": secret}}
    request = pods.PodRequest(adapter="generic", image=test_image, memory="64m", config=config)
    pods.create(api.ctx, ROOT, f"{tenant}/agent", request)
    pods.stop(api.ctx, ROOT, f"{tenant}/agent")
    url = f"/api/v1/tenants/{tenant}/pods/agent/config"
    admin, viewer = api.session("admin"), api.session("viewer", [tenant])

    assert admin.get(url).json()["secret_env"] == {"TOKEN": "********"}
    assert viewer.get(url).json()["secret_env"] == {"TOKEN": "********"}
    assert viewer.get(url, params={"reveal": True}).status_code == 403
    assert admin.get(url, params={"reveal": True}).json()["secret_env"] == {"TOKEN": secret}
    patched = admin.patch(url, json={"env": {"A": "b"}})
    assert patched.status_code == 200 and secret not in patched.text
    put = admin.put(url, json=admin.get(url).json())  # written back as shown: kept
    assert put.status_code == 200 and put.json()["changed"] is False
    assert admin.get(url, params={"reveal": True}).json()["secret_env"] == {"TOKEN": secret}
    audit = admin.get("/api/v1/audit", params={"tail": 50}).text
    assert "config.reveal" in audit and secret not in audit
    tenants.delete(api.ctx, ROOT, tenant, force=True)
