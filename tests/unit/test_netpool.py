from __future__ import annotations

import itertools

import pytest

from agentpod.core.netpool import SubnetPool, gateway_of


@pytest.mark.parametrize(
    ("pool", "prefix", "used", "first"),
    [
        ("10.213.0.0/16", 24, [], ["10.213.0.0/24", "10.213.1.0/24"]),
        ("10.213.0.0/16", 24, ["10.213.0.0/24"], ["10.213.1.0/24", "10.213.2.0/24"]),
        ("10.213.0.0/16", 24, ["10.213.0.0/23", "fd00::/64"], ["10.213.2.0/24"]),
        ("10.213.0.0/16", 24, ["10.213.1.128/25"], ["10.213.0.0/24", "10.213.2.0/24"]),
        ("10.213.0.0/16", 24, ["10.0.0.0/8"], []),  # a wider network covers the whole pool
        ("192.168.0.0/24", 26, ["192.168.0.64/26", "junk"], ["192.168.0.0/26", "192.168.0.128/26"]),
    ],
)
def test_free_subnets(pool: str, prefix: int, used: list[str], first: list[str]) -> None:
    free = SubnetPool(pool, prefix).free(used)
    assert list(itertools.islice(free, len(first) or 1)) == first


def test_the_default_pool_holds_256_tenants() -> None:
    assert len(list(SubnetPool().free([]))) == 256


@pytest.mark.parametrize(
    ("pool", "prefix"),
    [("nonsense", 24), ("fd00::/48", 64), ("10.0.0.0/16", 8), ("10.0.0.0/16", 30)],
)
def test_bad_pools_are_refused(pool: str, prefix: int) -> None:
    with pytest.raises(ValueError, match="network_pool"):
        SubnetPool(pool, prefix)


def test_the_gateway_is_the_first_host() -> None:
    assert gateway_of("10.213.7.0/24") == "10.213.7.1"
