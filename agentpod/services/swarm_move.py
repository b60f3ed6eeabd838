"""Move a pod's volume to another swarm node: stop its service, stream the volume from a
one-shot task on the source node to one on the target (over the tenant's overlay), compare the
SHA-256 of the stream as sent and as received, then pin the service to the target and start it: one
restart of downtime. The source is wiped only once the copy is verified; a failed copy leaves
it, and the pod, where they were."""

from __future__ import annotations

from dataclasses import dataclass

from agentpod.services.swarm_runtime import WIPE, Job, SwarmRuntime

PORT = 7070
TAR = "tar -c -C /v ."
# the SHA-256 of the bytes that go through /tmp/f, printed once the stream has ended (tar stops
# reading at its end marker: the padding after it is read all the same, so both sums see it)
TEE_SUM = "mkfifo /tmp/f && (sha256sum </tmp/f >/tmp/sum &)"
READY = "agentpod-sender-ready"
# the receiver's nc keeps its sending half open until all is read: busybox nc listening stops
# sending as soon as its peer half-closes, which cut copies short
HOLD = "(until [ -e /tmp/done ]; do sleep 0.2; done)"
SUM_OUT = "while [ ! -s /tmp/sum ]; do sleep 0.1; done; cat /tmp/sum"


class CopyMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class Move:
    service_id: str
    volume: str
    image: str
    network: str
    source: str  # node ids
    target: str


def _sum(output: str) -> str:
    """The checksum a job printed last (``<hex>  -``)."""
    words = [line.split()[0] for line in output.splitlines() if len(line.split()) >= 1]
    found = [w for w in words if len(w) == 64 and all(c in "0123456789abcdef" for c in w)]
    if not found:
        raise RuntimeError(f"no checksum in the job's output: {output[-300:]!r}")
    return found[-1]


def move(rt: SwarmRuntime, m: Move) -> str:
    """Copy, verify, switch; the verified checksum."""
    if not rt.update(m.service_id, 0):
        raise RuntimeError(f"service {m.service_id} is gone")
    rt.wait_stopped(m.service_id)
    send = f"{TEE_SUM}; echo {READY}; {TAR} | tee /tmp/f | nc -l -p {PORT}; {SUM_OUT}"
    sender = Job(m.image, m.source, m.volume, "/v", ["sh", "-c", send], "send", m.network)
    sender_id = rt.start_job(sender)
    try:
        address = rt.job_address(sender_id)
        rt.wait_output(sender_id, READY)  # then nc listens within milliseconds
        receive = (
            f"sleep 0.5; {WIPE}; {TEE_SUM}; {HOLD} | nc {address} {PORT} | tee /tmp/f"
            f" | (tar -x -C /v; cat >/dev/null; touch /tmp/done); {SUM_OUT}"
        )
        job = Job(m.image, m.target, m.volume, "/v", ["sh", "-c", receive], "receive", m.network)
        received = _sum(rt.run_job(job))
    finally:
        sent = _sum(rt.finish_job(sender_id, sender))
    if received != sent:
        rt.update(m.service_id, 1)  # back where it was, on its intact data
        raise CopyMismatch(f"copy of {m.volume} differs ({sent} sent, {received} received)")
    rt.update(m.service_id, 1, node=m.target)
    rt.list_pods()  # where each pod is pinned now
    rt.run_job(Job(m.image, m.source, m.volume, "/v", ["sh", "-c", WIPE], "wipe"))
    return sent
