"""Hub processes for the benchmarks that run several at once, and what can be seen of them.

- :func:`schema`: a PostgreSQL schema of its own on a given server, dropped afterwards; the
  hub's URL puts it on the search path and names the connections (``application_name``), so
  ``pg_stat_activity`` tells the run's connections apart from everyone else's.
- :class:`Processes`: ``hub serve`` and ``hub worker`` started in process groups of their own,
  every group stopped (and killed if it will not stop) when the block ends, whatever happens.
- :func:`sample`: a process's resident memory and threads, read from ``/proc``.

    with schema(server) as db, Processes() as processes:
        port = processes.serve(env, dispatcher=False)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench.publish import BIN, POSTGRES, ROOT, free_port, wait_until_up


def libpq(url: str) -> str:
    """An SQLAlchemy PostgreSQL URL as libpq (psycopg) takes it."""
    parsed = make_url(url)
    if parsed.drivername.startswith("postgres"):
        parsed = parsed.set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


@dataclass(frozen=True)
class Schema:
    """A schema made for one run: the hub's URL to it, and the server's."""

    server: str  # libpq URL of the server (no schema)
    name: str
    url: str  # libpq URL with the schema on the search path and the connections named
    application_name: str


@contextmanager
def schema(server: str = POSTGRES, prefix: str = "bench") -> Iterator[Schema]:
    """A fresh schema on ``server``, dropped (with everything in it) at the end."""
    server = libpq(server)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    url = (
        make_url(server)
        .update_query_dict({"options": f"-csearch_path={name}", "application_name": name})
        .render_as_string(hide_password=False)
    )
    try:
        yield Schema(server, name, url, name)
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            # connections of processes killed mid-statement may linger a moment
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            connection.execute(f'DROP SCHEMA "{name}" CASCADE')


def connections(db: Schema) -> int:
    """The run's open connections to the server (the hub's, by their application name)."""
    with psycopg.connect(db.server, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (db.application_name,),
        ).fetchone()
    return int(row[0]) if row else 0


def hub_command(*args: str) -> list[str]:
    return [str(BIN / "hub"), *args]


@dataclass
class HubProcess:
    """One started command (a ``hub serve`` arbiter and its workers, or a ``hub worker``)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None
    probe: str = "/healthz"  # the path that answers once it is up

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        """This process and its descendants (gunicorn's workers)."""
        return [self.pid, *descendants(self.pid)]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole group: nothing gets to finish or give anything back."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 40) -> None:
        """SIGTERM (an orderly stop), then SIGKILL the group if it is still there."""
        if self.alive():
            self.signal_group(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # whatever is left of the group (a worker outliving its arbiter) goes too
        self.signal_group(signal.SIGKILL)
        if self.alive():
            self.popen.wait(timeout=30)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Processes:
    """Hub processes started for a block; every one stopped when it ends."""

    started: list[HubProcess] = field(default_factory=list)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hub-procs-")))

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            for process in reversed(self.started):
                process.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> HubProcess:
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                start_new_session=True,
            )  # fmt: skip
        process = HubProcess(name, popen, log)
        self.started.append(process)
        return process

    def serve(
        self,
        env: dict[str, str],
        *,
        name: str = "serve",
        dispatcher: bool = True,
        workers: int = 2,
        threads: int = 4,
        wait: bool = True,
    ) -> HubProcess:
        """``hub serve`` on a free port, once it answers (unless told not to wait: see
        :meth:`ready`)."""
        port = free_port()
        command = hub_command(
            "serve", "--port", str(port), "--no-access-log",
            "--workers", str(workers), "--threads", str(threads),
            "--dispatcher" if dispatcher else "--no-dispatcher",
        )  # fmt: skip
        process = self.start(name, command, env)
        process.port, process.probe = port, "/healthz"
        if wait:
            self.ready(process)
        return process

    def worker(self, env: dict[str, str], *, name: str = "worker", wait: bool = True) -> HubProcess:
        """``hub worker`` named ``name`` (in its leases), once its metrics port answers."""
        port = free_port()
        command = hub_command("worker", "--name", name, "--metrics-port", str(port))
        process = self.start(name, command, env)
        process.port, process.probe = port, "/metrics"
        if wait:
            self.ready(process)
        return process

    def ready(self, *processes: HubProcess) -> None:
        """Wait until each of ``processes`` answers (they start side by side)."""
        for process in processes:
            assert process.port is not None
            try:
                wait_until_up(process.port, process.probe, timeout=90)
            except RuntimeError:
                raise RuntimeError(f"{process.name} did not start:\n{process.tail()}") from None


def descendants(pid: int) -> list[int]:
    """The processes below ``pid``, from the parent ids in ``/proc``."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = sorted(child for child, ppid in parents.items() if ppid == parent)
        found.extend(children)
        frontier.extend(children)
    return found


@dataclass(frozen=True)
class Sample:
    """A process's resident memory (KiB) and threads at one moment."""

    rss_kib: int
    threads: int


def sample(pid: int) -> Sample | None:
    """What ``/proc`` says of ``pid`` now (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return None
    return Sample(int(fields["VmRSS"].split()[0]), threads)


def wait_for(condition: Any, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


def cli(env: dict[str, str], *args: str) -> str:
    """Run ``hub ARGS``; its stdout, or an error carrying what it said on stderr."""
    result = subprocess.run(
        hub_command(*args), env=env, capture_output=True, text=True, cwd=ROOT, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"hub {' '.join(args)} exited {result.returncode}: {result.stderr.strip()[-2000:]}"
        )
    return result.stdout.strip()


def quick_cli(env: dict[str, str], *args: str) -> str:
    """``hub ARGS`` run in this process, under ``env``'s HUB_ settings: the same command without
    an interpreter to start (for setting up; ``cli`` runs the real program). Its app's
    connections are closed when it is done. Not for ``hub init``, which builds its own app."""
    from click.testing import CliRunner
    from flask import Flask
    from flask.cli import ScriptInfo

    from hub import create_app
    from hub.cli import cli as hub_cli
    from hub.core.extensions import db

    made: list[Flask] = []

    def factory() -> Flask:
        app = create_app()
        made.append(app)
        return app

    settings: dict[str, str | None] = {
        name: value for name, value in env.items() if name.startswith("HUB_")
    }
    for name in os.environ:  # none of this process's own HUB_ settings
        if name.startswith("HUB_") and name not in settings:
            settings[name] = None
    result = CliRunner().invoke(
        hub_cli, list(args), obj=ScriptInfo(create_app=factory), env=settings
    )
    for app in made:
        db.dispose(app)
    if result.exit_code != 0:
        raise RuntimeError(
            f"hub {' '.join(args)} exited {result.exit_code}: {result.stderr.strip()[-2000:]}"
        ) from result.exception
    return result.stdout.strip()
