"""One origin for frontends (issue 11 item 8): a single ASGI app that hands each request to the
service that answers its path, so that a browser reaches intake's API and notifier's
notifications (list and server-sent-event stream) from one origin with one token; the agents'
console (console/app.py, a frontend on that API) answers under /console.

Embedded mode (``atiende run``) serves it on intake's port; docker-compose does the same with a
reverse proxy (deploy/Caddyfile), whose routes ``tests/test_deploy_files.py`` checks against
``ROUTES`` here. Paths are passed on unchanged (no prefix is stripped): every service already
answers under its own paths. The services' apps are started by the runner itself, so this app's
lifespan does nothing.

    app = OneOrigin({"intake": intake.app, "workflow": ..., "notifier": ..., "reporting": ...})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# (path pattern, service); the first match wins, anything else goes to DEFAULT. A pattern matches
# the path itself and everything under it ("/reports" matches "/reports" and "/reports/x", not
# "/reportsx").
ROUTES: tuple[tuple[str, str], ...] = (
    ("/notifications", "notifier"),  # in-app notifications, their unread count and SSE stream
    ("/sms/status", "notifier"),  # Twilio's status callbacks
    ("/deliveries", "notifier"),  # the delivery ledger's per-user view
    ("/cases/*/deliveries", "notifier"),  # a case's deliveries (the rest of /cases is intake's)
    ("/notification-templates", "notifier"),  # the admins' templates and their preview (api_admin.py)
    ("/notification-rules", "notifier"),  # the admins' notification rules (api_admin.py)
    ("/reports", "reporting"),
    ("/contracts", "reporting"),  # the event contracts (AsyncAPI, JSON Schemas) for consumers
    ("/deadlines", "workflow"),
    ("/console", "console"),  # the agents' console (console/app.py: a frontend, it answers under /console)
)
DEFAULT = "intake"
# Apps the origin may do without: their paths answer 404 then (a test or a deployment without the console).
OPTIONAL = frozenset({"console"})


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join("[^/]+" if part == "*" else re.escape(part)
                              for part in re.split(r"(\*)", pattern)) + r"(?:/.*)?\Z")


_COMPILED = tuple((_regex(p), service) for p, service in ROUTES)


def service_for(path: str) -> str:
    """The service that answers ``path``."""
    for regex, service in _COMPILED:
        if regex.match(path):
            return service
    return DEFAULT


class OneOrigin:
    """ASGI dispatcher by path: ``apps`` maps a service name to its ASGI app."""

    def __init__(self, apps: Mapping[str, Any]) -> None:
        missing = ({s for _, s in ROUTES} | {DEFAULT}) - set(apps) - OPTIONAL
        if missing:
            raise ValueError(f"one origin needs the apps of {sorted(missing)}")
        self.apps = dict(apps)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":  # the runner starts and stops the services itself
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        app = self.apps.get(service_for(scope.get("path", "/")))
        if app is None:  # an optional app this origin was built without
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"Not Found"})
            return
        await app(scope, receive, send)
