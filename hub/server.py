"""``hub serve`` and ``hub worker``: the hub under gunicorn, and the dispatcher on its own;
both with their housekeeping (``hub.housekeeping``)."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import tempfile
import threading
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from hub.core.metrics import MULTIPROCESS_ENV
from hub.housekeeping import Housekeeper
from hub.subscriptions.dispatcher import Dispatcher

logger = logging.getLogger(__name__)


class HubServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from code rather than a config file."""

    def __init__(self, options: dict[str, Any], *, dispatcher: bool) -> None:
        self.options = options
        self.dispatcher = dispatcher
        super().__init__()

    def load_config(self) -> None:
        """Apply the options given on the command line."""
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        """Build the app in the worker, after the fork, so no connection crosses it."""
        from hub import create_app

        app = create_app()
        housekeeper = Housekeeper(app)
        housekeeper.start()
        app.extensions["hub.housekeeper"] = housekeeper
        if self.dispatcher:
            dispatcher = Dispatcher(app)
            dispatcher.start()
            app.extensions["hub.dispatcher"] = dispatcher
        # What is loaded now lives as long as the process: keep the collector from walking
        # it again and again (a full collection over it paused big feed pages for 100 ms).
        gc.freeze()
        return app


def _worker_exit(server: Any, worker: Any) -> None:
    """Let the worker's dispatcher finish what is in flight and give back its leases."""
    app = getattr(worker, "wsgi", None)
    if not isinstance(app, Flask):
        return
    for name in ("hub.dispatcher", "hub.housekeeper"):
        running = app.extensions.get(name)
        if running is not None:
            running.stop()


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _use_multiprocess_metrics() -> str | None:
    """Point prometheus_client at a fresh folder shared by the workers (unless set already);
    return the folder to remove at exit."""
    if os.environ.get(MULTIPROCESS_ENV):
        return None
    folder = tempfile.mkdtemp(prefix="hub-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder
    from prometheus_client import values

    # prometheus_client chose its value store when first imported, before the variable was set.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return folder


def serve(
    host: str,
    port: int,
    *,
    workers: int,
    threads: int,
    access_log: bool = True,
    dispatcher: bool = True,
) -> None:
    """Run the hub until interrupted."""
    folder = _use_multiprocess_metrics()
    try:
        HubServer(
            {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": "-" if access_log else None,
                # room for a delivery in flight to finish (WEBHOOK_TIMEOUT) at shutdown
                "graceful_timeout": 30,
                "timeout": 90,
                "worker_exit": _worker_exit,
                "child_exit": _child_exit,
            },
            dispatcher=dispatcher,
        ).run()
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)


def run_worker(app: Flask, *, name: str | None = None, metrics_port: int | None = None) -> None:
    """Run a dispatcher in this process until SIGINT or SIGTERM."""
    from prometheus_client import start_http_server

    from hub.core.metrics import scrape_registry

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=scrape_registry(app))
    housekeeper = Housekeeper(app)
    housekeeper.start()
    dispatcher = Dispatcher(app, name=name)
    dispatcher.start()
    logger.info("Dispatcher %s running", dispatcher.owner)
    stop.wait()
    logger.info("Stopping: finishing deliveries in flight")
    dispatcher.stop()
    housekeeper.stop()
