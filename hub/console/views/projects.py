"""The console's projects pages (being built)."""

from __future__ import annotations
