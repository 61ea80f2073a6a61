"""Secrets the hub must be able to use again, kept encrypted at rest (Fernet).

Some secrets cannot be stored as digests because the hub itself uses them: a webhook's signing
secret signs every delivery. They are stored encrypted with a key derived from SECRET_KEY
(HKDF-SHA256, one key per purpose), so a copy of the database alone does not give them away.
Rotation aware: values encrypted under a key now in PREVIOUS_SECRET_KEYS still decrypt, and
``hub init`` encrypts them again under the current key.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app

_EXTENSION = "hub.secret_box"


def _fernet(secret_key: str, purpose: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    """Encrypts under the current SECRET_KEY; decrypts under it or a previous one."""

    def __init__(self, settings: Mapping[str, Any], purpose: str) -> None:
        keys = [settings["SECRET_KEY"], *settings["PREVIOUS_SECRET_KEYS"]]
        fernets = [_fernet(key, purpose) for key in keys]
        self._current = fernets[0]
        self._fernet = MultiFernet(fernets)

    def seal(self, plaintext: str) -> str:
        """``plaintext`` encrypted under the current key."""
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        """The plaintext of ``sealed``; ValueError if no key the hub knows encrypted it."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError(
                "the value was not encrypted under SECRET_KEY or PREVIOUS_SECRET_KEYS"
            ) from exc

    def under_current_key(self, sealed: str) -> bool:
        """Whether ``sealed`` was encrypted under the current key."""
        try:
            self._current.decrypt(sealed.encode())
        except InvalidToken:
            return False
        return True

    def reseal(self, sealed: str) -> str:
        """``sealed`` encrypted again under the current key."""
        return self._fernet.rotate(sealed.encode()).decode()


def init_app(app: Flask) -> None:
    """The app's box for webhook signing secrets."""
    app.extensions[_EXTENSION] = SecretBox(app.config, "hub webhook signing secrets")


def secret_box() -> SecretBox:
    """The current app's box."""
    box: SecretBox = current_app.extensions[_EXTENSION]
    return box
