"""serve's answers to the CLI's reads (services/reads_socket.py), with a source of rows that
records what it was asked."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest

from agentpod.core.names import PodRef
from agentpod.services.errors import no_pod
from agentpod.services.reads_socket import answer

GONE = PodRef("acme", "gone")


class Source:
    def __init__(self) -> None:
        self.asked: list[tuple] = []
        self.scope: frozenset[str] | None = frozenset({"unset"})

    @contextlib.contextmanager
    def scoped(self, tenants: frozenset[str] | None) -> Iterator[None]:
        self.scope = tenants
        yield

    def pod_views(self, url, tenant=None, ref=None, tenants=None):  # type: ignore[no-untyped-def]
        self.asked.append((url, tenant, ref, tenants, self.scope))
        if ref == GONE:
            raise no_pod(ref)
        return [{"ref": str(ref)}]

    def has_tenant(self, name: str) -> bool:
        raise RuntimeError("the database is away")


def ask(source: Source, op: str, scope: list[str] | None = None, **args: object) -> dict:
    return answer(source, json.dumps({"op": op, "args": args, "scope": scope}).encode())


def test_arguments_arrive_as_the_source_takes_them() -> None:
    source = Source()
    got = ask(source, "pod_views", ["acme"], url=["http://", ".localhost"], ref="acme/web",
              tenants=["acme"])  # fmt: skip
    assert got == {"ok": [{"ref": "acme/web"}]}
    assert source.asked == [
        (("http://", ".localhost"), None, PodRef("acme", "web"), frozenset({"acme"}),
         frozenset({"acme"}))
    ]  # fmt: skip


def test_the_root_cli_is_unscoped() -> None:
    source = Source()
    ask(source, "pod_views", url=["http://", ""])
    assert source.asked[0][-1] is None


FAILED = "serve could not answer: "


@pytest.mark.parametrize(
    ("op", "args", "error"),
    [
        ("pod_views", {"url": ["a", "b"], "ref": str(GONE)}, ["NotFound", str(no_pod(GONE))]),
        ("has_tenant", {"name": "acme"}, ["Failed", f"{FAILED}the database is away"]),
        ("drop_everything", {}, ["Failed", f"{FAILED}unknown request 'drop_everything'"]),
    ],
)
def test_refusals_and_failures_answer_with_their_kind(op: str, args: dict, error: list) -> None:
    assert ask(Source(), op, **args) == {"error": error}


def test_a_line_that_is_not_a_request_is_refused() -> None:
    assert answer(Source(), b"not json")["error"][0] == "Failed"
