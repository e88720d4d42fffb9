"""``rosterd login --browser``: a person signs in in their browser, and the command line gets
a refresh token of its own, with no client secret on disk (RFC 8252, OAuth for native apps).

The command listens on 127.0.0.1 on a port the system picks and sends the browser to the
server's authorization endpoint with that loopback address as the redirect URI (the server
accepts any port for a loopback redirect URI registered on the client, RFC 8252 §7.3). The
person signs in and consents on the server's pages; the browser comes back to the listener
with the code, which Authlib's client trades for tokens with the PKCE verifier (S256). The
client is a public one: ``rosterd clients create --public --redirect-uri
http://127.0.0.1/callback``.
"""

from __future__ import annotations

import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

CALLBACK_PATH = "/callback"
DEFAULT_TIMEOUT = 300.0
_DONE_PAGE = (
    b"<!doctype html><title>rosterd</title><p>You can close this window and go back to the "
    b"terminal.</p>"
)


class BrowserLoginError(Exception):
    """The sign-in did not give tokens: refused, abandoned, or answered wrongly."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    scope: str


class _Callback:
    """One redirect to ``CALLBACK_PATH`` on 127.0.0.1: the URL the browser was sent to."""

    def __init__(self) -> None:
        self.url: str | None = None
        self.arrived = threading.Event()
        callback = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != CALLBACK_PATH:
                    self.send_error(404)
                    return
                callback.url = callback.redirect_uri.removesuffix(CALLBACK_PATH) + self.path
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(_DONE_PAGE)))
                self.end_headers()
                self.wfile.write(_DONE_PAGE)
                callback.arrived.set()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the terminal is the person's."""

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.redirect_uri = f"http://127.0.0.1:{self.server.server_port}{CALLBACK_PATH}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait(self, timeout: float) -> str:
        if not self.arrived.wait(timeout) or self.url is None:
            raise BrowserLoginError(f"no answer from the browser within {timeout:.0f} seconds")
        return self.url

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sign_in(
    server: str,
    tenant: str,
    client_id: str,
    *,
    show: Callable[[str], None],
    open_browser: Callable[[str], bool] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Tokens:
    """Run the flow: ``show`` tells the person the URL (in case no browser opens)."""
    issuer = f"{server.rstrip('/')}/tenants/{tenant}"
    callback = _Callback()
    started = time.monotonic()
    try:
        with OAuth2Client(
            client_id=client_id,
            redirect_uri=callback.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",  # noqa: S106 (a public client: no secret)
            timeout=30,
        ) as oauth:
            verifier = generate_token(64)
            url, state = oauth.create_authorization_url(
                f"{issuer}/authorize", code_verifier=verifier
            )
            show(url)
            (open_browser or webbrowser.open)(url)
            answer = callback.wait(timeout - (time.monotonic() - started))
            query = {k: v[0] for k, v in parse_qs(urlsplit(answer).query).items()}
            if "error" in query:
                why = query.get("error_description") or query["error"]
                raise BrowserLoginError(f"the server refused: {why}")
            token = oauth.fetch_token(
                f"{issuer}/connect/token",
                authorization_response=answer,
                state=state,
                code_verifier=verifier,
            )
    except (AuthlibBaseError, httpx.HTTPStatusError) as exc:
        raise BrowserLoginError(f"the sign-in failed: {exc}") from exc
    finally:
        callback.close()
    if not token.get("refresh_token"):
        raise BrowserLoginError(
            f"client {client_id} gets no refresh token: create it with --grant refresh_token"
        )
    return Tokens(
        access_token=str(token["access_token"]),
        refresh_token=str(token["refresh_token"]),
        scope=str(token.get("scope", "")),
    )
