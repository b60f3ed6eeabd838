from __future__ import annotations

import pytest

from agentpod.core.names import (
    DNS_LABEL,
    InvalidName,
    PodRef,
    network_name,
    validate_image,
    validate_label,
)

HOSTILE = [
    "a`) || Host(`evil",
    "../x",
    "UPPER",
    "a" * 64,
    "",
    "-lead",
    "trail-",
    "a_b",
    "a.b",
    "a b",
    "é",
    "a\nb",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidName) as err:
        validate_label(name, "tenant name")
    assert "tenant name" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["a", "acme", "a-b", "0", "x" * 63, "a1-b2"])
def test_dns_labels_are_accepted(name: str) -> None:
    assert validate_label(name) == name


@pytest.mark.parametrize("text", ["acme", "acme/", "/x", "a/b/c", "acme/UPPER"])
def test_bad_pod_refs(text: str) -> None:
    with pytest.raises(InvalidName):
        PodRef.parse(text)


def test_derived_names() -> None:
    ref = PodRef.parse("acme/agent")
    assert (ref.container, ref.volume, ref.default_subdomain) == (
        "agentpod-acme-agent",
        "agentpod-data-acme-agent",
        "acme-agent",
    )
    assert network_name("acme") == "agentpod-net-acme"


def test_clashing_refs_share_a_key() -> None:
    """The store refuses the second of these by its unique resource key."""
    assert PodRef.parse("a-b/c").key == PodRef.parse("a/b-c").key


def test_long_default_subdomain_is_still_a_label() -> None:
    ref = PodRef("t" * 40, "p" * 40)
    sub = ref.default_subdomain
    assert DNS_LABEL.match(sub) and len(sub) <= 63
    assert sub != PodRef("t" * 40, "p" * 39 + "q").default_subdomain


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/openclaw/openclaw:2026.9.6",
        "agentpod-live/openclaw:2026.9.6-b",
        "localhost:5000/team/agent:latest",
        "busybox",
        "ghcr.io/open-webui/open-webui:main",
        "agent@sha256:" + "0" * 64,
    ],
)
def test_image_references_are_accepted(image: str) -> None:
    assert validate_image(image) == image


@pytest.mark.parametrize("image", ["img:[red]x", "a b", "x:", "x:-tag", "a//b", "", "a:b:c"])
def test_bad_image_references_are_refused(image: str) -> None:
    with pytest.raises(InvalidName, match="not a valid image reference"):
        validate_image(image)
