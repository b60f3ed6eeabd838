"""Rate limits come from each tenant's settings: 429 beyond the burst, for that tenant only."""

from __future__ import annotations

from tests.integration.dataplane.helpers import create_pod, new_tenant
from tests.support.proxied import Proxied


def test_rate_limit_is_per_tenant(proxied: Proxied, test_image: str) -> None:
    env = proxied.env
    strict = new_tenant(env, "--rate-average", "1", "--rate-burst", "3")
    relaxed = new_tenant(env)
    for t in (strict, relaxed):
        create_pod(env, f"{t}/web", test_image)
    for t in (strict, relaxed):
        proxied.wait_status(f"{t}-web", 200)

    codes = {t: [proxied.get(f"{t}-web")[0] for _ in range(20)] for t in (strict, relaxed)}

    assert codes[relaxed] == [200] * 20
    assert codes[strict].count(429) >= 10, codes[strict]
    assert set(codes[strict]) <= {200, 429}

    # relaxing the strict tenant later: its pod is recreated with the new limit
    env.run("tenant", "set", strict, "--rate-average", "1000", "--rate-burst", "1000")
    labels = env.json("tenant", "status", strict)["settings"]
    assert labels == {"rate_average": 1000, "rate_burst": 1000, "pool": None}
    from tests.support.proc import wait_until

    wait_until(lambda: [proxied.get(f"{strict}-web")[0] for _ in range(20)] == [200] * 20, 20)
    for t in (strict, relaxed):
        env.run("pod", "delete", f"{t}/web", "--yes")
