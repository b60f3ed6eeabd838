"""What route functions are given: the control context of this app."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agentpod.control.context import Context


async def _context(request: Request) -> Context:  # async: no thread hop for a lookup
    return request.app.state.ctx


Ctx = Annotated[Context, Depends(_context)]
