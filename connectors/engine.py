"""The sync engine: read a source in chunks, publish to the hub, then save the position.

A source yields chunks of native rows, each with the state to save once the hub has confirmed
every row of it. The engine saves that state only after the hub answered (every couple of
seconds, and at the end of the run), so a crash at any point loses nothing, and a re-run
repeats nothing that counts: the hub makes no new version for content it already has. Rows
the mapping or the hub refuses are quarantined with the reason and do not stop the others.
Each run is reported to the hub.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import requests
from tqdm import tqdm

from connectors.client import HubClient, HubRefused
from connectors.mapping import MappingError, RecordMapping
from connectors.state import Quarantine, StateStore

log = logging.getLogger(__name__)


class SourceError(Exception):
    """The external system failed or answered something the connector cannot read."""


@dataclass
class Chunk:
    """Native rows, and what to save (and then do) once the hub confirmed all of them."""

    rows: Sequence[Mapping[str, Any]]
    # the source must not change it afterwards: it may be saved after later chunks were read
    checkpoint: dict[str, Any] | None = None
    after_save: Callable[[], object] | None = None
    # rows the source itself cannot place (say, an unreadable update time), with the reason
    refused: Sequence[tuple[Mapping[str, Any], str]] = ()
    # the checkpoint in a few words, for the run report
    position: str | None = None


class Source(Protocol):
    """An external system read incrementally from a saved state."""

    total: int | None
    notes: list[str]

    def chunks(self, state: Mapping[str, Any]) -> Iterator[Chunk]:
        """Chunks of rows changed since ``state``, in order."""
        ...


@dataclass
class RunProgress:
    """What a run did, and where it stands, as reported to the hub."""

    read: int = 0
    published: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    # the position saved last, for the operator (land: the mark; permitting: its cursor ...)
    cursor: str | None = None


@dataclass
class RunResult:
    """The outcome of one run."""

    run_id: str
    status: str
    counts: RunProgress
    started_at: dt.datetime
    finished_at: dt.datetime
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the run reached the end of the source."""
        return self.status == "succeeded"


class SyncEngine:
    """Moves one source's changes into one record type of the hub."""

    def __init__(
        self,
        name: str,
        record_type: str,
        mapping: RecordMapping,
        client: HubClient,
        store: StateStore,
        quarantine: Quarantine,
        *,
        batch_size: int = 500,
        progress: bool | None = None,
        checkpoint_seconds: float = 2.0,
    ) -> None:
        self.name = name
        self.record_type = record_type
        self.mapping = mapping
        self.client = client
        self.store = store
        self.quarantine = quarantine
        self.batch_size = batch_size
        # None: a progress bar on a terminal only
        self.progress = progress
        self.checkpoint_seconds = checkpoint_seconds

    def run_once(self, source: Source) -> RunResult:
        """Sync everything the source changed since the saved state, and report the run."""
        return reported_run(self.client, self.name, lambda counts: self._sync(source, counts))

    def _sync(self, source: Source, counts: RunProgress) -> list[str]:
        bar = tqdm(
            desc=self.name, unit="row", disable=self._progress_disabled(), total=source.total
        )
        confirmed = _Confirmed(self.store, counts, self.checkpoint_seconds)
        try:
            for chunk in source.chunks(self.store.load()):
                self._apply(chunk.rows, counts)
                for row, reason in chunk.refused:
                    counts.read += 1
                    counts.rejected += 1
                    self.quarantine.add(_key_or_none(self.mapping, row), row, reason)
                bar.total = source.total
                bar.update(len(chunk.rows))
                confirmed.add(chunk)
        except BaseException:
            # what the hub confirmed is kept, also when a later chunk failed; a failure to
            # keep it must not hide the failure that ended the run
            try:
                confirmed.save()
            except Exception:
                log.exception("%s: could not save the confirmed state", self.name)
            raise
        else:
            confirmed.save()
        finally:
            bar.close()
        return source.notes

    def _apply(self, rows: Sequence[Mapping[str, Any]], counts: RunProgress) -> None:
        """Publish one chunk; quarantine what is refused."""
        items: list[dict[str, Any]] = []
        natives: list[Mapping[str, Any]] = []
        for row in rows:
            counts.read += 1
            key: str | None = None
            try:
                key = self.mapping.key_of(row)
                if self.mapping.is_deleted(row):
                    items.append({"key": key, "deleted": True})
                else:
                    items.append({"key": key, "data": self.mapping.data_of(row)})
            except MappingError as error:
                counts.rejected += 1
                self.quarantine.add(key, row, "the mapping could not read the row", error.errors)
                continue
            natives.append(row)
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            results = self.client.publish_batch(self.record_type, batch)
            rows_of_batch = natives[start : start + self.batch_size]
            for item, row, result in zip(batch, rows_of_batch, results, strict=True):
                self._count(item, row, result, counts)

    def _count(
        self,
        item: Mapping[str, Any],
        row: Mapping[str, Any],
        result: Mapping[str, Any],
        counts: RunProgress,
    ) -> None:
        # a hub from before batch outcomes says only 201 or 200
        outcome = result.get("outcome") or {201: "created", 200: "updated"}.get(result["status"])
        if outcome in ("created", "updated"):
            counts.published += 1
        elif outcome == "deleted":
            counts.deleted += 1
        elif outcome == "unchanged" or (item.get("deleted") and result["status"] == 404):
            # a withdrawal of a row the hub never had is already true in the hub
            counts.unchanged += 1
        else:
            counts.rejected += 1
            detail = str(result.get("detail") or f"refused with status {result['status']}")
            self.quarantine.add(str(item["key"]), row, detail, result.get("errors"))

    def _progress_disabled(self) -> bool | None:
        return None if self.progress is None else not self.progress


class _Confirmed:
    """Checkpoints of chunks the hub confirmed, saved at most every ``every`` seconds.

    Saving after each chunk would rewrite the state once per page, and a land state holding a
    bulk change's boundary rows is large; a crash repeats at most ``every`` seconds of work,
    which the hub's unchanged rule makes harmless. What a checkpoint unlocks (moving a finished
    file aside) happens only once it is saved.
    """

    def __init__(self, store: StateStore, counts: RunProgress, every: float) -> None:
        self.store, self.counts, self.every = store, counts, every
        self.checkpoint: dict[str, Any] | None = None
        self.position: str | None = None
        self.then: list[Callable[[], object]] = []
        self.saved_at = time.monotonic()

    def add(self, chunk: Chunk) -> None:
        if chunk.checkpoint is not None:
            self.checkpoint, self.position = chunk.checkpoint, chunk.position
        if chunk.after_save is not None:
            self.then.append(chunk.after_save)
        if time.monotonic() - self.saved_at >= self.every:
            self.save()

    def save(self) -> None:
        if self.checkpoint is not None:
            self.store.save(self.checkpoint)
            self.counts.cursor = self.position or self.counts.cursor
            self.checkpoint = None
        self.saved_at = time.monotonic()
        then, self.then = self.then, []
        for action in then:
            action()


def reported_run(
    client: HubClient, name: str, work: Callable[[RunProgress], list[str]]
) -> RunResult:
    """Run ``work`` as one connector run: reported to the hub when it starts and ends.

    A failure of the source or the hub ends the run as failed; whatever ``work`` confirmed
    before it is kept, and the next run goes on from there.
    """
    run_id, started, counts = str(uuid.uuid4()), _now(), RunProgress()
    _report(client, name, {"run_id": run_id, "status": "running", "started_at": started})
    status, error, notes = "succeeded", None, []
    try:
        notes = work(counts)
    except (SourceError, HubRefused, requests.RequestException) as failure:
        status, error = "failed", f"{type(failure).__name__}: {failure}"
        log.warning("%s: run failed; the state stays at the last confirmed chunk: %s", name, error)
    except Exception as failure:
        # A bug or an answer nobody foresaw: a connector runs unattended, so it reports the
        # run as failed and tries again at the next interval instead of dying.
        status, error = "failed", f"{type(failure).__name__}: {failure}"
        log.exception(
            "%s: run failed unexpectedly; the state stays at the last confirmed chunk", name
        )
    result = RunResult(run_id, status, counts, started, _now(), error, notes)
    report: dict[str, Any] = {
        "run_id": run_id,
        "status": status,
        "started_at": started,
        "finished_at": result.finished_at,
        **{k: v for k, v in asdict(counts).items() if k != "cursor"},
    }
    if error:
        report["error"] = error[:2000]
    if counts.cursor:
        report["cursor"] = counts.cursor[:500]
    if notes:
        # the hub keeps details small (16 KiB): the first notes, each cut short, tell the story
        report["details"] = {"notes": [note[:300] for note in notes[:30]]}
    _report(client, name, report)
    return result


def _report(client: HubClient, name: str, report: dict[str, Any]) -> None:
    """Tell the hub about a run; a hub that cannot hear it does not stop the sync."""
    sent = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in report.items()}
    try:
        client.report_run(name, sent)
    except (HubRefused, requests.RequestException) as failure:
        log.warning("%s: could not report the run to the hub: %s", name, failure)


def _key_or_none(mapping: RecordMapping, row: Mapping[str, Any]) -> str | None:
    try:
        return mapping.key_of(row)
    except MappingError:
        return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
