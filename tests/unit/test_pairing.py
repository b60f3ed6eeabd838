"""OpenClaw's device pairing capability: argv in, CLI output parsed (pure, no container)."""

from __future__ import annotations

import json

import pytest

from agentpod.core.adapters import get_adapter
from agentpod.core.adapters.pairing import ExecResult, PairingError, pairing_of

OC = pairing_of(get_adapter("openclaw"))
assert OC is not None

PENDING = {
    "requestId": "0dcf9574-14a7-45fc-b483-db58a8d7fbbc",
    "deviceId": "25e99709" + "0" * 56,
    "clientId": "openclaw-control-ui",
    "platform": "linux",
    "role": "operator",
    "scopes": ["operator.read"],
    "remoteIp": "203.0.113.7",
    "ts": 1795323241795,
}
PAIRED = {
    "deviceId": "f3d7b6c7" + "1" * 56,
    "clientId": "cli",
    "role": "operator",
    "scopes": ["operator.admin"],
    "approvedAtMs": 1795323243660,
    "connected": False,
}


def ok(data: object, banner: str = "") -> ExecResult:
    return ExecResult(exit_code=0, stdout=banner + json.dumps(data), stderr="")


def test_only_openclaw_pairs() -> None:
    assert pairing_of(get_adapter("generic")) is None
    assert pairing_of(get_adapter("open-webui")) is None


def test_list_parses_pending_then_paired() -> None:
    assert OC.list_devices_argv() == ("openclaw", "devices", "list", "--json")
    devices = OC.parse_devices(ok({"pending": [PENDING], "paired": [PAIRED]}, "banner\n"))
    assert [(d.status, d.request_id) for d in devices] == [
        ("pending", PENDING["requestId"]),
        ("paired", None),
    ]
    assert devices[0].client == "openclaw-control-ui" and devices[0].at_ms == PENDING["ts"]
    assert devices[1].scopes == ("operator.admin",) and devices[1].connected is False
    assert OC.parse_devices(ok({"pending": [], "paired": []})) == []


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (ExecResult(exit_code=1, stdout="", stderr="gateway closed\nmore"), "gateway closed"),
        (ExecResult(exit_code=0, stdout="not json", stderr=""), "printed no JSON object"),
        (ExecResult(exit_code=0, stdout="[1, 2]", stderr=""), "printed no JSON object"),
    ],
)
def test_list_failures_are_one_line(result: ExecResult, message: str) -> None:
    with pytest.raises(PairingError, match=message) as err:
        OC.parse_devices(result)
    assert "\n" not in str(err.value)


def test_approve() -> None:
    rid = PENDING["requestId"]
    assert OC.approve_argv(rid) == ("openclaw", "devices", "approve", rid, "--json")
    device = OC.parse_approve(rid, ok({"requestId": rid, "device": PAIRED}))
    assert device.status == "paired" and device.request_id == rid
    assert device.device_id == PAIRED["deviceId"]


@pytest.mark.parametrize("bad", ["--latest", "-x", "", "a b", "x" * 200, "id;rm"])
def test_approve_refuses_what_is_not_a_request_id(bad: str) -> None:
    with pytest.raises(PairingError, match="is not a request id"):
        OC.approve_argv(bad)


def test_unknown_request_id() -> None:
    stderr = "No pending device request matches nope. Run openclaw devices list and retry."
    with pytest.raises(PairingError, match="no pending pairing request nope"):
        OC.parse_approve("nope", ExecResult(exit_code=1, stdout="", stderr=stderr))


def test_token_use_is_declared() -> None:
    assert get_adapter("openclaw").token_use
    assert get_adapter("open-webui").token_use
    assert get_adapter("generic").token_use is None
