"""Wiredesk inside the Airflow UI: the search API and pages under ``/wiredesk`` in the api-server.

The plugin mounts one FastAPI app (``wiredesk_web.app``) under ``/wiredesk``: the search API of
``pipeline.search.api`` (``/wiredesk/api/search``, ``/api/quotes``, ...), the feed-health API
(``/wiredesk/api/feeds``) and small HTML pages, all behind the Airflow login. The pages appear in the
Airflow navigation (Browse menu) as external views with a ``url_route``, so they render inside the UI.

Loading stays cheap: the plugins manager runs in the scheduler and DAG processor too, so this module
imports only ``airflow.plugins_manager``; FastAPI, Elasticsearch and the page app are imported when
the api-server serves its first ``/wiredesk`` request.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/wiredesk"


class LazyApp:
    """An ASGI app that builds the real Wiredesk app on its first request."""

    def __init__(self) -> None:
        self.app: Any = None

    def build(self) -> Any:
        """The page and API app, with settings from ``WIREDESK_*`` and the ``wiredesk_elasticsearch`` Connection."""
        from pipeline.tasks import airflow_settings
        from wiredesk_web.app import create_plugin_app

        return create_plugin_app(airflow_settings())

    async def __call__(self, scope, receive, send) -> None:
        if self.app is None:
            self.app = self.build()
        await self.app(scope, receive, send)


def external_view(name: str, path: str, url_route: str) -> dict:
    """A page in the Airflow navigation (Browse menu), rendered inside the UI."""
    return {"name": name, "href": f"{URL_PREFIX}/{path}", "url_route": url_route,
            "destination": "nav", "category": "browse"}


class WiredeskPlugin(AirflowPlugin):
    """Search and feed-health pages plus the search API, behind the Airflow login."""

    name = "wiredesk"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Wiredesk search"}]
    external_views = [
        external_view("Wiredesk Search", "", "wiredesk"),
        external_view("Feed Health", "feeds", "wiredesk-feeds"),
    ]
