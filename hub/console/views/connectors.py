"""The console's connectors pages (being built)."""

from __future__ import annotations
