"""The console's supervision pages (being built)."""

from __future__ import annotations
