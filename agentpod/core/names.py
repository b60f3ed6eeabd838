"""Names: validation of tenant/pod/subdomain labels and the Docker/DNS names derived from them.

Every name ends up in a container name, a volume name and a Traefik ``Host()`` rule, so only
DNS labels are accepted; anything else is refused before it reaches the database.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# Docker's reference grammar: [registry[:port]/]path[:tag][@digest]
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_REF = re.compile(
    rf"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?{_PATH}(?:/{_PATH})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,})?$"
)
PREFIX = "agentpod"

RESERVED_SUBDOMAINS = frozenset({"console"})  # console.<domain>: the HTTP API and dashboard


class InvalidName(ValueError):
    """A name that is not a DNS label; the message says what to use instead."""


def validate_label(value: str, what: str = "name") -> str:
    if not value:
        raise InvalidName(f"{what} is empty: use 1-63 characters of a-z, 0-9 and '-'")
    if len(value) > 63:
        raise InvalidName(
            f"{what} {value[:20]!r}... is {len(value)} characters long: use at most 63"
        )
    if not DNS_LABEL.match(value):
        raise InvalidName(
            f"{what} {value!r} is not a DNS label: use lowercase a-z, 0-9 and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def validate_image(value: str) -> str:
    if len(value) > 255 or not IMAGE_REF.match(value):
        raise InvalidName(
            f"image {value!r} is not a valid image reference: use NAME[:TAG][@DIGEST], "
            "e.g. ghcr.io/openclaw/openclaw:2026.9.6"
        )
    return value


def validate_domain(value: str, what: str = "domain") -> str:
    """A DNS name (labels separated by dots): it ends up in Host() rules, nothing else passes."""
    value = value.strip().lower().rstrip(".")
    if len(value) > 253:
        raise InvalidName(f"{what} {value[:30]!r}... is longer than 253 characters")
    for label in value.split("."):
        validate_label(label, f"{what} label in {value!r}")
    return value


@dataclass(frozen=True, order=True)
class PodRef:
    """A pod's address, ``tenant/name``."""

    tenant: str
    name: str

    @classmethod
    def parse(cls, text: str) -> PodRef:
        tenant, sep, name = text.partition("/")
        if not sep or "/" in name:
            raise InvalidName(f"pod {text!r} is not of the form TENANT/POD (e.g. acme/agent)")
        return cls(validate_label(tenant, "tenant name"), validate_label(name, "pod name"))

    def __str__(self) -> str:
        return f"{self.tenant}/{self.name}"

    @property
    def key(self) -> str:
        """The flat name every Docker object of this pod is derived from; unique across pods."""
        return f"{self.tenant}-{self.name}"

    @property
    def container(self) -> str:
        return f"{PREFIX}-{self.key}"

    @property
    def volume(self) -> str:
        return f"{PREFIX}-data-{self.key}"

    @property
    def default_subdomain(self) -> str:
        """``<tenant>-<pod>``; if longer than a DNS label, cut to 56 characters plus a hash."""
        key = self.key
        if len(key) <= 63:
            return key
        digest = hashlib.sha256(key.encode()).hexdigest()[:6]
        return f"{key[:56].rstrip('-')}-{digest}"


def network_name(tenant: str) -> str:
    return f"{PREFIX}-net-{tenant}"


SHARED_NETWORK = f"{PREFIX}-net"


def public_url(scheme: str, domain: str, port: int | None, subdomain: str) -> str:
    """The URL a pod's subdomain answers on (the port only when not the scheme's own)."""
    head, tail = url_parts(scheme, domain, port)
    return f"{head}{subdomain}{tail}"


def url_parts(scheme: str, domain: str, port: int | None) -> tuple[str, str]:
    """What comes before and after a subdomain in its public URL."""
    default = 443 if scheme == "https" else 80
    shown = f":{port}" if port and port != default else ""
    return f"{scheme}://", f".{domain}{shown}"
