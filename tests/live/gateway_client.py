"""A small client of the OpenClaw gateway WebSocket protocol (protocol 4), for live tests.

Frames (verified against openclaw 2026.9.6):

* server, first frame:
  ``{"type":"event","event":"connect.challenge","payload":{"nonce":N,"ts":MS}}``
* client request:
  ``{"type":"req","id":ID,"method":"connect","params":{...}}``
* server response:
  ``{"type":"res","id":ID,"ok":true,"payload":{"type":"hello-ok","protocol":4,...}}``
  ``{"type":"res","id":ID,"ok":false,"error":{"code":..,"message":..,"details":{"code":..}}}``

Device identity: Ed25519 key pair; ``device.id`` = sha256(raw 32-byte public key) hex;
``device.publicKey`` = raw public key, base64url without padding; ``device.signature`` = Ed25519
signature (base64url) of the UTF-8 string
``v3|deviceId|clientId|clientMode|role|scope1,scope2|signedAtMs|token|nonce|platform|deviceFamily``
(platform/deviceFamily trimmed and ASCII-lowercased; token = auth.token or "" ;
signedAtMs = the challenge's ``ts``). The server also accepts the older ``v2|...|nonce`` form.

Needs ``websockets`` (sync client) and, for device identities, ``cryptography``.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.sync.client import connect as ws_connect

PROTOCOL = 4
DEFAULT_SCOPES = (
    "operator.read",
    "operator.write",
    "operator.admin",
    "operator.approvals",
    "operator.pairing",
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _norm_meta(value: str | None) -> str:
    value = (value or "").strip()
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in value)


@dataclass
class DeviceIdentity:
    """An Ed25519 device identity as the gateway expects it."""

    private_key: Any  # cryptography Ed25519PrivateKey

    @classmethod
    def generate(cls) -> DeviceIdentity:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: str | Path) -> DeviceIdentity:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        return cls(load_pem_private_key(Path(path).read_bytes(), password=None))

    def save(self, path: str | Path) -> None:
        from cryptography.hazmat.primitives import serialization as s

        pem = self.private_key.private_bytes(
            s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()
        )
        Path(path).write_bytes(pem)

    @property
    def public_key_raw(self) -> bytes:
        from cryptography.hazmat.primitives import serialization as s

        return self.private_key.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)

    @property
    def device_id(self) -> str:
        return hashlib.sha256(self.public_key_raw).hexdigest()

    @property
    def public_key(self) -> str:
        return _b64url(self.public_key_raw)

    def sign(self, payload: str) -> str:
        return _b64url(self.private_key.sign(payload.encode("utf-8")))


def device_auth_payload_v3(
    *,
    device_id: str,
    client_id: str,
    client_mode: str,
    role: str,
    scopes: list[str] | tuple[str, ...],
    signed_at_ms: int,
    token: str | None,
    nonce: str,
    platform: str | None,
    device_family: str | None,
) -> str:
    return "|".join(
        [
            "v3",
            device_id,
            client_id,
            client_mode,
            role,
            ",".join(scopes),
            str(signed_at_ms),
            token or "",
            nonce,
            _norm_meta(platform),
            _norm_meta(device_family),
        ]
    )


@dataclass
class ConnectResult:
    ok: bool
    challenge: dict[str, Any]
    response: dict[str, Any]
    hello: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    extra_frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def code(self) -> str | None:
        """The most specific error code: ``error.details.code`` if present, else ``error.code``."""
        if not self.error:
            return None
        details = self.error.get("details") or {}
        return details.get("code") or self.error.get("code")

    @property
    def request_id(self) -> str | None:
        """The pairing request id of a NOT_PAIRED / PAIRING_REQUIRED error."""
        details = (self.error or {}).get("details") or {}
        return details.get("requestId")

    @property
    def scopes(self) -> list[str]:
        return list(((self.hello or {}).get("auth") or {}).get("scopes") or [])

    @property
    def role(self) -> str | None:
        return ((self.hello or {}).get("auth") or {}).get("role")


class GatewayProtocolError(RuntimeError):
    pass


def connect(
    url: str,
    token: str | None = None,
    *,
    host: str | None = None,
    origin: str | None = None,
    device: DeviceIdentity | None = None,
    client_id: str = "cli",
    client_mode: str = "cli",
    platform: str = "linux",
    device_family: str | None = None,
    role: str = "operator",
    scopes: list[str] | tuple[str, ...] = DEFAULT_SCOPES,
    device_token: str | None = None,
    forwarded_for: str | None = None,
    extra_headers: dict[str, str] | None = None,
    timeout: float = 15.0,
    keep_open: bool = False,
) -> ConnectResult | tuple[ConnectResult, Any]:
    """Open ``url``, answer the challenge with ``connect``, return the outcome.

    ``host``/``origin`` set the HTTP ``Host``/``Origin`` headers of the upgrade request (as a
    browser on the pod's URL would): ``url`` is then only where to dial, e.g. Traefik's port.
    ``forwarded_for`` adds ``X-Forwarded-For`` (plus
    ``X-Forwarded-Proto``/``-Host``): needed when this client connects from an address listed in
    ``gateway.trustedProxies`` (e.g. from the Docker host via the bridge gateway IP), which the
    gateway otherwise refuses with HTTP 403 ``proxy_attribution_required``. With ``keep_open``
    the open websocket is returned too.
    """
    headers: dict[str, str] = {}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
        headers["X-Forwarded-Proto"] = "https" if url.startswith("wss:") else "http"
        if host:
            headers["X-Forwarded-Host"] = host
    headers.update(extra_headers or {})
    if host:  # the Host header comes from the URI: dial the real address through `sock`
        parts = urlsplit(url)
        kwargs_sock = socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout
        )
        url = urlunsplit((parts.scheme, host, parts.path or "/", parts.query, ""))
    else:
        kwargs_sock = None
    if origin:
        headers["Origin"] = origin
    kwargs: dict[str, Any] = {}
    if (
        "legacy" in inspect.signature(ws_connect).parameters
    ):  # websockets >= 17: plain (non-`with`) use
        kwargs["legacy"] = True
    if kwargs_sock is not None:
        kwargs["sock"] = kwargs_sock
    ws = ws_connect(
        url,
        additional_headers=headers or None,
        open_timeout=timeout,
        max_size=64 * 1024 * 1024,
        compression=None,
        **kwargs,
    )
    try:
        challenge = json.loads(ws.recv(timeout=timeout))
        if challenge.get("type") != "event" or challenge.get("event") != "connect.challenge":
            raise GatewayProtocolError(f"expected connect.challenge, got {challenge!r}")
        nonce = challenge["payload"]["nonce"]
        ts = int(challenge["payload"]["ts"])
        params: dict[str, Any] = {
            "minProtocol": PROTOCOL,
            "maxProtocol": PROTOCOL,
            "client": {
                "id": client_id,
                "version": "0.1.0",
                "platform": platform,
                "mode": client_mode,
            },
            "role": role,
            "scopes": list(scopes),
            "caps": [],
            "userAgent": "agentpod-live/0.1",
            "locale": "en-US",
        }
        if device_family:
            params["client"]["deviceFamily"] = device_family
        auth: dict[str, str] = {}
        if token is not None:
            auth["token"] = token
        if device_token is not None:
            auth["deviceToken"] = device_token
        if auth:
            params["auth"] = auth
        if device is not None:
            payload = device_auth_payload_v3(
                device_id=device.device_id,
                client_id=client_id,
                client_mode=client_mode,
                role=role,
                scopes=list(scopes),
                signed_at_ms=ts,
                token=token if token is not None else device_token,
                nonce=nonce,
                platform=platform,
                device_family=device_family,
            )
            params["device"] = {
                "id": device.device_id,
                "publicKey": device.public_key,
                "signature": device.sign(payload),
                "signedAt": ts,
                "nonce": nonce,
            }
        req_id = str(uuid.uuid4())
        ws.send(json.dumps({"type": "req", "id": req_id, "method": "connect", "params": params}))
        extra: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no response to connect")
            frame = json.loads(ws.recv(timeout=remaining))
            if frame.get("type") == "res" and frame.get("id") == req_id:
                break
            extra.append(frame)
        result = ConnectResult(
            ok=bool(frame.get("ok")), challenge=challenge, response=frame, extra_frames=extra
        )
        if result.ok:
            result.hello = frame.get("payload")
        else:
            result.error = frame.get("error")
    except BaseException:
        ws.close()
        raise
    if keep_open:
        return result, ws
    ws.close()
    return result


def request(
    ws: Any, method: str, params: dict[str, Any] | None = None, *, timeout: float = 15.0
) -> dict[str, Any]:
    """Send one RPC on an open, connected websocket and return its ``res`` frame."""
    req_id = str(uuid.uuid4())
    ws.send(json.dumps({"type": "req", "id": req_id, "method": method, "params": params or {}}))
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if frame.get("type") == "res" and frame.get("id") == req_id:
            return frame


if __name__ == "__main__":  # quick manual probe: python gateway_client.py ws://IP:18789 TOKEN
    import sys

    res = connect(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
    assert isinstance(res, ConnectResult)
    print(json.dumps(res.response, indent=2)[:4000])
