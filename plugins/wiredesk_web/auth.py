"""The Airflow login in front of every Wiredesk page and API route.

Airflow 3's UI keeps the user's JWT in the ``_token`` cookie (HTTP-only, set by the login form); API
clients send ``Authorization: Bearer <token>`` (from ``POST /auth/token``). Either is checked by the
configured auth manager, exactly as Airflow's own API does (``core_api.security.get_user``). The pages
are same-origin with the UI, so the browser sends the cookie with every ``fetch`` by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

LOGGER = logging.getLogger(__name__)

COOKIE_NAME = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
Authenticate = Callable[[str], Awaitable[Any]]


def request_token(request: Request) -> str | None:
    """The bearer token, else the UI's session cookie."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(COOKIE_NAME) or None


async def airflow_user(token: str) -> Any:
    """The Airflow user the token belongs to, if they may see the UI; None for a bad, expired or revoked token."""
    from jwt import InvalidTokenError

    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView

    manager = get_auth_manager()
    try:
        user = await manager.get_user_from_token(token)
    except InvalidTokenError:  # includes ExpiredSignatureError
        return None
    # The same right as the Airflow UI itself: a user who may not see the website may not search.
    return user if manager.is_authorized_view(access_view=AccessView.WEBSITE, user=user) else None


def airflow_login_url(next_url: str) -> str:
    """The auth manager's login page, coming back to ``next_url`` afterwards."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=next_url)


def wants_page(request: Request) -> bool:
    """A person's browser asking for a page (redirect to the login), not a script asking for data."""
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    return request.method == "GET" and not path.startswith(("/api/", "/static/"))


class LoginRequired:
    """ASGI middleware: a valid Airflow token or no answer (401 for the API, login redirect for pages)."""

    def __init__(self, app, authenticate: Authenticate = airflow_user,
                 login_url: Callable[[str], str] = airflow_login_url) -> None:
        self.app = app
        self.authenticate = authenticate
        self.login_url = login_url

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = request_token(request)
        user = await self.authenticate(token) if token else None
        if user is None:
            await self.reject(request)(scope, receive, send)
            return
        scope.setdefault("state", {})["wiredesk_user"] = user
        await self.app(scope, receive, send)

    def reject(self, request: Request) -> Response:
        """Where an unauthenticated request ends."""
        if wants_page(request):
            return RedirectResponse(self.login_url(str(request.url)), status_code=303)
        return JSONResponse({"detail": "Not authenticated: log in to Airflow (or send a Bearer token)"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})
