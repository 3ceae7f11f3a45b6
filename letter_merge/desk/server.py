"""`letter-merge desk`: the desk served on 127.0.0.1 only, for as long as the command runs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn

from letter_merge.app.letters import Converter
from letter_merge.app.programs import Previews, open_in_browser
from letter_merge.config import Settings
from letter_merge.desk.app import create_app
from letter_merge.desk.security import DeskKeys
from letter_merge.errors import InputError

HOST = "127.0.0.1"  # never another interface: the desk is for this machine's user alone


def listening_socket(port: int) -> socket.socket:
    """A socket on 127.0.0.1 (`port`, or a free one for 0), bound before the server starts so
    that the address it prints is the one it serves."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as error:
        sock.close()
        raise InputError(
            f"--port {port}: cannot listen there ({error.strerror}); choose another port, or "
            "leave --port out for a free one."
        ) from None
    sock.listen(64)
    return sock


def serve_desk(
    config_file: Path | None,
    *,
    port: int,
    open_browser: bool,
    converter: Callable[[Settings], Converter],
    previews: Previews,
    announce: Callable[[str], None],
) -> None:
    """Serve the desk until Ctrl-C (or the terminal closes); `announce` gets the address first.
    `previews`' LibreOffice kept running, if any, is started now and stopped at the end."""
    sock = listening_socket(port)
    port = sock.getsockname()[1]
    keys = DeskKeys()
    address = f"http://{HOST}:{port}/?token={keys.address_key}"

    app = create_app(config_file, keys, port, converter, previews)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            # An open page keeps a progress stream open: Ctrl-C must not wait for it.
            timeout_graceful_shutdown=1,
        )
    )
    announce(address)
    threading.Thread(target=previews.start, daemon=True).start()
    if open_browser:
        threading.Thread(target=_open_when_ready, args=(server, address), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        previews.close()


def _open_when_ready(server: uvicorn.Server, address: str) -> None:
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    open_in_browser(address)
