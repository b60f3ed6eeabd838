"""Polled reads in one worker-thread hop: the caller's credentials resolved, the work done and
its JSON encoded in the same thread, the bytes answered as they are (FastAPI's own path costs a
hop for the caller, another for the route, and a validation of the answer before encoding it:
more than the work itself for a list of pods)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import Response
from pydantic import TypeAdapter

_ANY: TypeAdapter[Any] = TypeAdapter(Any)
# asyncio's own executor: a lighter hop than anyio's; as many threads as the store's pool has
# connections (more would only wait for one)
_READERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="api-read")


async def json_in_one_hop(work: Callable[[], Any]) -> Response:
    """``work()``'s answer as JSON: a ``str`` is JSON already; anything else is encoded as
    FastAPI would (datetimes in ISO 8601)."""
    loop = asyncio.get_running_loop()
    body = await loop.run_in_executor(_READERS, lambda: _encoded(work()))
    return Response(body, media_type="application/json")


def _encoded(answer: Any) -> bytes | str:
    return answer if isinstance(answer, str) else _ANY.dump_json(answer)
