"""Per-tenant quotas through the CLI against the real database and engine: concurrent creates
from separate processes never pass max_pods; memory and CPU quotas at create, start and limit
changes; usage against quota in ``tenant status``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import Env

POD = ["--type", "generic", "--set", "health_path=/readyz", "--no-wait"]


def _create(env: Env, ref: str, image: str, *options: str):
    return env.run("pod", "create", ref, "--image", image, *POD, *options, check=False)


def test_ten_concurrent_creates_against_max_pods_3_make_exactly_3(
    agentpod_env: Env, tenant: str, test_image: str
) -> None:
    env = agentpod_env
    env.run("tenant", "create", tenant)
    env.run("tenant", "set", tenant, "--max-pods", "3")
    try:
        with ThreadPoolExecutor(10) as pool:
            procs = list(
                pool.map(
                    lambda i: _create(env, f"{tenant}/p{i}", test_image, "--memory", "32m"),
                    range(10),
                )
            )
        made = [p for p in procs if p.returncode == 0]
        refused = [p for p in procs if p.returncode != 0]
        assert len(made) == 3, [p.stderr for p in procs]
        expected = f"tenant {tenant}: 3 of 3 pods used, this needs 1 more (1 over)"
        assert all(expected in p.stderr and p.returncode == 1 for p in refused)
        assert len(env.json("pod", "list", "--tenant", tenant)) == 3
        usage = env.json("tenant", "status", tenant)["usage"]
        assert usage == {"pods": 3, "memory_mb": 96, "cpus": usage["cpus"]}
    finally:
        env.run("tenant", "delete", tenant, "--force", "--yes")


def test_memory_and_cpu_quotas_at_create_start_and_limit_change(
    agentpod_env: Env, tenant: str, test_image: str
) -> None:
    env = agentpod_env
    env.run("tenant", "create", tenant)
    env.run("tenant", "set", tenant, "--max-memory", "128m", "--max-cpus", "1")
    a, b = f"{tenant}/a", f"{tenant}/b"
    try:
        assert _create(env, a, test_image, "--memory", "64m", "--cpus", "0.5").returncode == 0
        big = _create(env, b, test_image, "--memory", "128m", "--cpus", "0.25")
        assert big.returncode == 1
        assert (
            f"tenant {tenant}: 64 of 128 MiB memory used, this needs 128 more "
            f"(64 over); raise it with agentpod tenant set {tenant} --max-memory SIZE"
        ) in big.stderr
        assert [p["name"] for p in env.json("pod", "list", "--tenant", tenant)] == ["a"]

        assert _create(env, b, test_image, "--memory", "64m", "--cpus", "0.5").returncode == 0
        env.run("pod", "stop", b)
        env.run("pod", "set", a, "--memory", "128m")  # b stopped: holds nothing
        start = env.run("pod", "start", b, "--no-wait", check=False)
        assert start.returncode == 1 and "128 of 128 MiB memory used" in start.stderr
        grow = env.run("pod", "set", a, "--cpus", "1.5", check=False)
        assert grow.returncode == 1 and "(0.5 over)" in grow.stderr
        env.run("pod", "set", a, "--memory", "96m")  # shrinking always passes

        status = env.json("tenant", "status", tenant)
        assert status["quota"] == {"max_pods": None, "max_memory_mb": 128, "max_cpus": 1.0}
        assert status["usage"] == {"pods": 2, "memory_mb": 96, "cpus": 0.5}
        table = env.run("tenant", "status", tenant).stdout
        assert "quota: pods 2 of unlimited, memory 96 MiB of 128 MiB, CPUs 0.5 of 1" in table

        env.run("tenant", "set", tenant, "--clear", "max-memory")
        env.run("pod", "start", b, "--no-wait")
        assert env.json("tenant", "status", tenant)["usage"]["memory_mb"] == 160
    finally:
        env.run("tenant", "delete", tenant, "--force", "--yes")


def test_bad_input_is_refused_as_usage_in_one_line(agentpod_env: Env, tenant: str) -> None:
    env = agentpod_env
    zero = env.run("tenant", "create", tenant, "--rate-average", "0", check=False)
    assert zero.returncode == 2
    assert zero.stderr.strip() == "error: rate_average: Input should be greater than or equal to 1"
    env.run("tenant", "create", tenant)
    try:
        bad = env.run("tenant", "set", tenant, "--max-memory", "lots", check=False)
        assert bad.returncode == 2
        assert bad.stderr.strip() == "error: memory 'lots' is not a size: use e.g. 512m or 1.5g"
        assert env.json("tenant", "status", tenant)["quota"]["max_memory_mb"] is None
        tiny = _create(env, f"{tenant}/a", "img:1", "--memory", "8m")
        assert tiny.returncode == 2
        assert tiny.stderr.strip() == (
            "error: memory_mb: Input should be greater than or equal to 16"
        )
        assert env.json("pod", "list", "--tenant", tenant) == []
    finally:
        env.run("tenant", "delete", tenant)


def test_a_tenant_network_full_of_pods_refuses_one_more(
    agentpod_env: Env, tenant: str, test_image: str
) -> None:
    """A /29 tenant network has 5 addresses for pods: the 6th create is refused at once, with
    what to do, and leaves nothing behind (Docker's own error came later, from the start)."""
    env, small = agentpod_env, {"AGENTPOD_NETWORK_PREFIX": "29"}
    env.run("tenant", "create", tenant)
    try:
        for i in range(5):
            made = env.run(
                "pod", "create", f"{tenant}/p{i}", "--image", test_image, *POD, env=small
            )
            assert made.returncode == 0, made.stderr
        sixth = env.run("pod", "create", f"{tenant}/p5", "--image", test_image, *POD,
                        env=small, check=False)  # fmt: skip
        assert sixth.returncode == 1
        assert f"tenant {tenant}: its network holds 5 pods, this would be pod 6" in sixth.stderr
        assert len(env.json("pod", "list", "--tenant", tenant)) == 5
    finally:
        env.run("tenant", "delete", tenant, "--force", "--yes")
