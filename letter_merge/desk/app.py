"""The desk's web application: its state (state.py), its routes (routes.py) and its words
(views.py) put together behind its security (security.py). Each step of the page is one of
app/'s own functions, the same ones the commands call, so the desk adds no rule of its own."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from letter_merge.app.letters import Converter
from letter_merge.config import Settings
from letter_merge.desk.routes import INLINE, ROUTES, Handler, body, refused
from letter_merge.desk.security import DeskGuard, DeskKeys
from letter_merge.desk.state import Desk
from letter_merge.errors import LetterMergeError


def create_app(
    config_file: Path | None,
    keys: DeskKeys,
    port: int,
    converter: Callable[[Settings], Converter],
    previewer: Callable[[Settings], Converter] | None = None,
) -> DeskGuard:
    desk = Desk(config_file, keys, converter, previewer or converter)
    app = Starlette(
        routes=[
            Route(path, _endpoint(desk, handler), methods=list(methods))
            for path, handler, methods in ROUTES
        ]
    )
    guard = DeskGuard(app, keys, port, inline=lambda path: path in INLINE)
    guard.desk = desk  # what the routes share, for the tests to look at
    return guard


def _endpoint(desk: Desk, handler: Handler) -> Callable[[Request], object]:
    """A handler as Starlette calls it: the request's body read, the work done off the server's
    own thread, the result as JSON, and the library's errors as the page shows them."""

    async def endpoint(request: Request) -> Response:
        try:
            data = await body(request)
            if inspect.iscoroutinefunction(handler):
                result = await handler(desk, request, data)
            else:  # reading workbooks, checking, approving: off the server's own thread
                result = await asyncio.to_thread(handler, desk, request, data)
            return result if isinstance(result, Response) else JSONResponse(result)
        except LetterMergeError as error:
            return refused(error)

    return endpoint
