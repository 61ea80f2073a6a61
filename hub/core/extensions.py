"""Extension singletons, bound to an app by ``create_app`` through their ``init_app``."""

from __future__ import annotations

from hub.core.db import Database
from hub.core.errors import HubApi

db = Database()
api = HubApi()
