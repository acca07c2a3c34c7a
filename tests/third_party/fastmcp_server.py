"""A FastMCP server with FastMCP's own in-memory OAuth provider, for the conformance tester's tests.

This is FastMCP as its documentation sets it up: `InMemoryOAuthProvider` is a whole authorization
server in the process (metadata, DCR, authorize, token, revocation) that signs everyone in at once,
and the MCP endpoint at /mcp is protected by it. Nothing here is ours but the wiring: the verdicts
the tester gives are about FastMCP (pinned in requirements.txt).

Usage: python fastmcp_server.py
Prints one line "READY http://127.0.0.1:PORT/mcp" once it accepts requests (the port is a free one
chosen by the OS), then serves until its standard input closes (so it never outlives the test
process that started it).
"""

import asyncio
import os
import signal
import socket
import sys
import threading

from fastmcp import FastMCP
from fastmcp.server.auth.auth import ClientRegistrationOptions
from fastmcp.server.auth.providers.in_memory import InMemoryOAuthProvider


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Connections wait in the backlog until uvicorn accepts them.
    sock.listen(128)
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"

    auth = InMemoryOAuthProvider(
        base_url=base,
        client_registration_options=ClientRegistrationOptions(enabled=True),
    )
    mcp = FastMCP("fastmcp-conformance-target", auth=auth)

    @mcp.tool
    def echo(text: str = "") -> str:
        """Says the text back."""
        return text

    # Stop when the parent goes away: its end of our stdin closes. SIGTERM lets uvicorn drain.
    def watch_stdin() -> None:
        sys.stdin.read()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(f"READY {base}/mcp", flush=True)
    # As FastMCP's documentation runs it (its run_http_async protects a loopback-bound server's
    # Host and Origin by default); the socket is ours only so that the port is a free one.
    asyncio.run(
        mcp.run_http_async(
            transport="http",
            host="127.0.0.1",
            port=port,
            sockets=[sock],
            path="/mcp",
            json_response=True,
            show_banner=False,
            log_level="warning",
        )
    )


if __name__ == "__main__":
    main()
