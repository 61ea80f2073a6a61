"""A small OpenID Connect provider for the single sign-on tests, served on loopback.

It speaks the authorization code flow the hub uses: discovery, a JWKS with an RSA key made at
first use, ``/authorize`` (no login form: it sends the visitor straight back with a code for the
person the test chose, or with ``error=access_denied`` when told to refuse), ``/token``
(checks the client, exchanges the code once for an access token and an RS256-signed ID token)
and ``/userinfo``. Tests set who signs in next::

    provider.person = Person("u-1", "lin", "Lin Hua", department="land", hub_role="officer")

and may make it misbehave (``provider.refuse = True``, ``provider.nonce = "forged"``) or keep
claims out of the ID token, for ``/userinfo`` only (``provider.userinfo_only = {"hub_role"}``).
"""

from __future__ import annotations

import base64
import functools
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlencode

from flask import Flask, Response, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from connectors.simulators import ServedApp

CLIENT_ID = "hub-console"
CLIENT_SECRET = "provider-secret-" + "s" * 24
KEY_ID = "test-signing-key"
TOKEN_SECONDS = 300


@dataclass
class Person:
    """Who the provider says signs in: the claims it puts in the ID token (None: left out)."""

    sub: str
    preferred_username: str
    name: str
    department: str | None = None
    hub_role: str | None = None

    def claims(self) -> dict[str, str]:
        """The person's claims, without the ones left out."""
        return {name: value for name, value in asdict(self).items() if value is not None}


@dataclass
class _Grant:
    """What an authorization code stands for until it is exchanged."""

    client_id: str
    redirect_uri: str
    nonce: str | None
    claims: dict[str, str]


class OidcProvider:
    """The provider, served in a thread until :meth:`close`; ``issuer`` is its URL."""

    def __init__(self, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        # the next person to sign in, and how the provider misbehaves (see the module's text)
        self.person: Person | None = None
        self.refuse = False
        self.nonce: str | None = None
        self.userinfo_only: set[str] = set()
        self.key = _signing_key()
        self._grants: dict[str, _Grant] = {}
        self._access: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._served = ServedApp(self._build())
        self.issuer = self._served.url

    def close(self) -> None:
        """Stop serving."""
        self._served.shutdown()

    def __enter__(self) -> OidcProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _build(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule("/.well-known/openid-configuration", view_func=self.discovery)
        app.add_url_rule("/jwks", view_func=self.jwks)
        app.add_url_rule("/authorize", view_func=self.authorize)
        app.add_url_rule("/token", view_func=self.token, methods=["POST"])
        app.add_url_rule("/userinfo", view_func=self.userinfo)
        return app

    def discovery(self) -> Response:
        """Where everything is, and what the provider supports."""
        return jsonify(
            issuer=self.issuer,
            authorization_endpoint=f"{self.issuer}/authorize",
            token_endpoint=f"{self.issuer}/token",
            userinfo_endpoint=f"{self.issuer}/userinfo",
            jwks_uri=f"{self.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            scopes_supported=["openid", "profile"],
        )

    def jwks(self) -> Response:
        """The public half of the signing key."""
        return jsonify(KeySet([self.key]).as_dict(private=False))

    def authorize(self) -> ResponseReturnValue:
        """Send the visitor back at once: with a code for ``person``, or refused."""
        args = request.args
        redirect_uri = args.get("redirect_uri", "")
        if args.get("client_id") != self.client_id or not redirect_uri:
            return _error(400, "invalid_request")
        back: dict[str, str] = {"state": args.get("state", "")}
        if self.refuse or self.person is None:
            back["error"] = "access_denied"
        elif args.get("response_type") != "code" or "openid" not in args.get("scope", "").split():
            back["error"] = "invalid_request"
        else:
            code = secrets.token_urlsafe(16)
            with self._lock:
                self._grants[code] = _Grant(
                    self.client_id, redirect_uri, args.get("nonce"), self.person.claims()
                )
            back["code"] = code
        return redirect(f"{redirect_uri}?{urlencode(back)}")

    def token(self) -> ResponseReturnValue:
        """Exchange a code (once) for an access token and a signed ID token."""
        client_id, client_secret = _client_credentials()
        if client_id != self.client_id or client_secret != self.client_secret:
            return _error(401, "invalid_client")
        with self._lock:
            grant = self._grants.pop(request.form.get("code", ""), None)
        if (
            request.form.get("grant_type") != "authorization_code"
            or grant is None
            or grant.redirect_uri != request.form.get("redirect_uri")
        ):
            return _error(400, "invalid_grant")
        access_token = secrets.token_urlsafe(16)
        with self._lock:
            self._access[access_token] = grant.claims
        return jsonify(
            access_token=access_token,
            token_type="Bearer",
            expires_in=TOKEN_SECONDS,
            scope="openid profile",
            id_token=self.id_token(grant),
        )

    def id_token(self, grant: _Grant) -> str:
        """The RS256-signed ID token of a grant (with ``nonce``, when set, instead of the
        one the client sent)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + TOKEN_SECONDS,
            **{
                name: value
                for name, value in grant.claims.items()
                if name not in self.userinfo_only
            },
        }
        nonce = self.nonce or grant.nonce
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode({"alg": "RS256", "kid": KEY_ID}, claims, self.key)

    def userinfo(self) -> ResponseReturnValue:
        """The claims of the person an access token was issued for."""
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            claims = self._access.get(bearer)
        if claims is None:
            return _error(401, "invalid_token")
        return jsonify(claims)


@functools.cache
def _signing_key() -> RSAKey:
    """The provider's RSA key, made once per test run (making one takes a while)."""
    return RSAKey.generate_key(
        2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"}, private=True
    )


def _client_credentials() -> tuple[str | None, str | None]:
    """The client's id and secret: HTTP Basic (client_secret_basic, each part URL-encoded)
    or the form's fields."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
        client_id, _, client_secret = decoded.partition(":")
        return unquote(client_id), unquote(client_secret)
    return request.form.get("client_id"), request.form.get("client_secret")


def _error(status: int, code: str) -> tuple[Response, int]:
    return jsonify(error=code), status
