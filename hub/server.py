"""``hub serve`` and ``hub worker``: the hub under gunicorn, and the dispatcher on its own;
both with their housekeeping (``hub.housekeeping``)."""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from typing import Any

from flask import Flask
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from hub.core.metrics import MULTIPROCESS_ENV
from hub.housekeeping import Housekeeper
from hub.subscriptions.dispatcher import Dispatcher

logger = logging.getLogger(__name__)
# seconds a quick shutdown (Ctrl-C) gives the dispatcher to give back its leases
QUICK_STOP_SECONDS = 1.0


def write_problem(sock: Any, status: int, reason: str, message: str) -> None:
    """Answer a request gunicorn could not parse (a bad request line, a header too large) as
    the hub answers every error: RFC 9457 problem+json."""
    body = json.dumps(
        {"type": "about:blank", "title": reason, "status": status, "detail": message or reason}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    gunicorn_util.write_nonblock(sock, head.encode("latin1") + body)


class HubWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, answering what it cannot parse as problem+json.

    gunicorn writes those answers itself, before any app sees the request, through
    ``gunicorn.util.write_error`` and offers no hook for them: the worker process points that
    one function at :func:`write_problem` when it starts.
    """

    def init_process(self) -> None:
        """Start the worker, its parse errors rendered as problem+json."""
        gunicorn_util.write_error = write_problem
        super().init_process()

    def handle_quit(self, sig: int, frame: Any) -> None:
        """Ctrl-C or SIGQUIT: go straight to the quick stop.

        gthread's own handler first shuts its thread pool down, and Ctrl-C followed by the
        arbiter's SIGQUIT ran that shutdown inside itself, waiting on a lock it already held,
        until the arbiter killed the worker half a minute later.
        """
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_IGN)
        self.alive = False
        self.cfg.worker_int(self)
        os._exit(0)


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


def _worker_int(worker: Any) -> None:
    """Ctrl-C (gunicorn's quick shutdown): stop at once rather than let requests and
    deliveries in flight run out. A delivery not confirmed yet is made again later
    (at-least-once); a client whose request is cut off retries it."""
    # Ctrl-C reaches the worker, and the arbiter's SIGQUIT follows: a second run of this
    # hook inside the first would wait for the write lock the first holds.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        dispatcher = app.extensions.get("hub.dispatcher")
        if dispatcher is not None:
            dispatcher.stop(timeout=QUICK_STOP_SECONDS, wait_for_deliveries=False)
        housekeeper = app.extensions.get("hub.housekeeper")
        if housekeeper is not None:
            housekeeper.stop(timeout=QUICK_STOP_SECONDS)
    # gunicorn's request threads and the dispatcher's would hold the exit until they end
    os._exit(0)


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
                "worker_class": "hub.server.HubWorker",
                "accesslog": "-" if access_log else None,
                # room for a delivery in flight to finish (WEBHOOK_TIMEOUT) at shutdown
                "graceful_timeout": 30,
                "timeout": 90,
                "worker_exit": _worker_exit,
                "worker_int": _worker_int,
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
