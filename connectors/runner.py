"""Build a connector from its settings and run it once or on an interval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from urllib3.util.retry import Retry

from connectors.client import HubClient
from connectors.config import ConnectorConfig, load_section, require_secret
from connectors.engine import RunResult, Source, SyncEngine, reported_run
from connectors.finance import FinanceSettingsSchema, FinanceSource
from connectors.land import LandSettingsSchema, LandSource
from connectors.mapping import build_mapping
from connectors.permitting import (
    ApprovalSource,
    OutboundSettingsSchema,
    PermittingApi,
    PermittingSettingsSchema,
    ProjectPush,
)
from connectors.state import Quarantine, StateStore

log = logging.getLogger(__name__)


@dataclass
class Outbound:
    """Hub records pushed back into the external system, reported under their own name."""

    name: str
    push: ProjectPush
    wait: float


@dataclass
class Connector:
    """One configured connector: a source synced into the hub, and maybe an outbound push."""

    config: ConnectorConfig
    client: HubClient
    engine: SyncEngine
    new_source: Callable[[], Source]
    outbound: Outbound | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def run_once(self, wait: float = 0) -> list[RunResult]:
        """One inbound sync, then one outbound pass (long-polling up to ``wait`` seconds)."""
        results = [self.engine.run_once(self.new_source())]
        if self.outbound is not None:
            outbound = self.outbound
            results.append(
                reported_run(
                    self.client,
                    outbound.name,
                    lambda counts: outbound.push.run_once(counts, wait=wait),
                )
            )
        return results

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        """Run, then wait ``interval`` seconds, until ``stop`` is set."""
        while not stop.is_set():
            wait = min(self.outbound.wait, interval) if self.outbound else 0
            for result in self.run_once(wait=wait):
                if result.ok:
                    log.info("%s: %s", self.config.name, result.counts)
                else:
                    log.warning("%s failed: %s", self.config.name, result.error)
            stop.wait(max(interval - wait, 0))

    def close(self) -> None:
        """Release the connections to the hub and the source."""
        self.client.close()
        for close in self.closers:
            close()


def build(
    config: ConnectorConfig,
    *,
    progress: bool | None = None,
    environ: Mapping[str, str] | None = None,
    hub_retry: Retry | None = None,
) -> Connector:
    """A ready connector for ``config``: hub client, sync engine and the system's source."""
    client = HubClient(config.hub_url, config.access_key, retry=hub_retry)
    engine = SyncEngine(
        config.name,
        config.record_type,
        config.mapping,
        client,
        StateStore(config.state_dir, config.name),
        Quarantine(config.state_dir, config.name),
        batch_size=config.batch_size,
        progress=progress,
    )
    if config.system == "land":
        land = load_section(LandSettingsSchema(), config.source, "source")
        return Connector(config, client, engine, lambda: LandSource(land, config.mapping.key))
    if config.system == "finance":
        finance = load_section(FinanceSettingsSchema(), config.source, "source")
        return Connector(config, client, engine, lambda: FinanceSource(finance, config.mapping))
    settings = load_section(PermittingSettingsSchema(), config.source, "source")
    api = PermittingApi(settings, require_secret(settings["client_secret_env"], environ))
    connector = Connector(
        config,
        client,
        engine,
        lambda: ApprovalSource(api, settings["page_size"]),
        closers=[api.http.close],
    )
    if config.outbound is not None:
        outbound = load_section(OutboundSettingsSchema(), config.outbound, "outbound")
        mapping = build_mapping({"key": "project_code", "fields": outbound["fields_"]})
        push = ProjectPush(
            client,
            api,
            mapping,
            StateStore(config.state_dir, outbound["connector"]),
            Quarantine(config.state_dir, outbound["connector"]),
            outbound["record_type"],
        )
        connector.outbound = Outbound(outbound["connector"], push, outbound["wait"])
    return connector
