"""Extension singletons, bound to an app by ``create_app`` through their ``init_app``."""

from __future__ import annotations

from hub.db import Database
from hub.errors import HubApi

db = Database()
api = HubApi()
