"""``hub serve``: the hub under gunicorn, each worker building its own app."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class HubServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from code rather than a config file."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply the options given on the command line."""
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        """Build the app in the worker, after the fork, so no connection crosses it."""
        from hub import create_app

        return create_app()


def serve(host: str, port: int, *, workers: int, threads: int, access_log: bool = True) -> None:
    """Run the hub until interrupted."""
    HubServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread",
            "accesslog": "-" if access_log else None,
            "graceful_timeout": 10,
            "timeout": 90,
        }
    ).run()
