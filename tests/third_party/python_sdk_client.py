"""The Python SDK's own OAuth client (mcp's OAuthClientProvider on streamable_http_client)
signing in to an MCP server and calling its tools.

Only the person is played here: the authorization URL the SDK hands to its redirect handler is
followed like a browser would (cookies kept, each HTML form answered: a consent page approved,
a sign-in form filled with MCP_USERNAME / MCP_PASSWORD), and the redirect's code, state and iss
are what its callback handler returns. Everything else (discovery, registration, PKCE, the token
request, RFC 9207, the 403 step-up) is the SDK's.

usage: python python_sdk_client.py <MCP URL>
Prints one JSON line per step; exits 0 once whoami and the step-up call both succeeded.
"""

import asyncio
import html
import json
import os
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import httpx2
from mcp import ClientSession
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:7878/callback"  # never listened on: the code is read off the redirect


def log(step: str, **detail: object) -> None:
    print(json.dumps({"step": step, **detail}), flush=True)


class Memory:
    """The SDK's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        log("tokens", scope=tokens.scope, refresh_token=tokens.refresh_token is not None)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info
        log("registered", token_endpoint_auth_method=client_info.token_endpoint_auth_method)


def _attribute(tag: str, name: str) -> str | None:
    m = re.search(rf'{name}\s*=\s*"([^"]*)"', tag, re.IGNORECASE)
    return html.unescape(m.group(1)) if m else None


def _answer(page: str) -> tuple[str, dict[str, str]] | None:
    """The first POST form of a page, as a person would submit it."""
    form = re.search(r'<form[^>]*method="post"[^>]*>(.*?)</form>', page, re.IGNORECASE | re.DOTALL)
    if not form:
        return None
    action = _attribute(re.match(r"<form[^>]*>", form.group(0)).group(0), "action") or ""
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", form.group(1), re.IGNORECASE):
        name = _attribute(tag, "name")
        kind = (_attribute(tag, "type") or "text").lower()
        if not name:
            continue
        if kind == "password":
            fields[name] = os.environ.get("MCP_PASSWORD", "")
        elif kind == "hidden":
            fields[name] = _attribute(tag, "value") or ""
        else:
            fields[name] = os.environ.get("MCP_USERNAME", "")
    for tag in re.findall(r"<button[^>]*>", form.group(1), re.IGNORECASE):
        name, value = _attribute(tag, "name"), _attribute(tag, "value")
        if name and value and re.search(r"approve|allow|accept", value, re.IGNORECASE):
            fields[name] = value
    return action, fields


class Person:
    """Follows an authorization URL through the pages a person would see."""

    def __init__(self) -> None:
        self.result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        query = parse_qs(urlparse(authorization_url).query)
        log("authorize", scope=query.get("scope", [None])[0], resource=query.get("resource", [None])[0],
            pkce=query.get("code_challenge_method", [None])[0])
        async with httpx2.AsyncClient(follow_redirects=False) as browser:
            url, method, data = authorization_url, "GET", None
            for _ in range(20):
                response = await browser.request(method, url, data=data)
                if response.is_redirect:
                    target = urljoin(url, response.headers["location"])
                    if target.startswith(REDIRECT_URI):
                        params = {k: v[0] for k, v in parse_qs(urlparse(target).query).items()}
                        if "error" in params:
                            raise RuntimeError(f"the authorization server refused: {params}")
                        self.result = AuthorizationCodeResult(
                            code=params["code"], state=params.get("state"), iss=params.get("iss"))
                        return
                    url, method, data = target, "GET", None
                    continue
                form = _answer(response.text) if response.status_code == 200 else None
                if form is None:
                    raise RuntimeError(f"stuck at {url}: HTTP {response.status_code}")
                url, method, data = urljoin(url, form[0]), "POST", form[1]
        raise RuntimeError("no code after 20 steps")

    async def callback_handler(self) -> AuthorizationCodeResult:
        result, self.result = self.result, None
        assert result is not None, "the redirect handler found no code"
        return result


async def main(server_url: str) -> int:
    person = Person()
    provider = OAuthClientProvider(
        server_url=server_url,
        client_metadata=OAuthClientMetadata(
            client_name="Python SDK client (mcp-auth-kit interop)",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=Memory(),
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        async with streamable_http_client(server_url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                log("connected", protocol=init.protocol_version, server=init.server_info.name)
                tools = await session.list_tools()
                log("tools/list", tools=sorted(t.name for t in tools.tools))
                whoami = await session.call_tool("whoami", {})
                log("tools/call", tool="whoami", isError=bool(whoami.is_error))
                added = await session.call_tool("notes_add", {"text": "from the Python SDK"})
                text = added.content[0].text if added.content else None
                log("tools/call", tool="notes_add", isError=bool(added.is_error), text=text)
                return 1 if whoami.is_error or added.is_error else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python python_sdk_client.py <MCP URL>", file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(asyncio.run(main(sys.argv[1])))
    except Exception as e:  # noqa: BLE001 - the test reads the reason from the transcript
        log("failed", error=f"{type(e).__name__}: {e}")
        sys.exit(1)
