"""The console's subscriptions pages (being built)."""

from __future__ import annotations
