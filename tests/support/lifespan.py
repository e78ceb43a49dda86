"""Starting an app's lifespan in a test, with room for a busy machine.

asgi-lifespan gives an app 5 seconds to start; CI runs two test suites side by side on two
cores, and an app's startup (migrations on a fresh database, the worker) has taken longer
than that there. Every test starts its apps through `app_lifespan`, which allows a minute.
"""

from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp

STARTUP_SECONDS = 60
SHUTDOWN_SECONDS = 60


def app_lifespan(app: ASGIApp) -> LifespanManager:
    """The app's lifespan as an async context: started on entry, shut down on exit."""
    return LifespanManager(app, startup_timeout=STARTUP_SECONDS, shutdown_timeout=SHUTDOWN_SECONDS)
