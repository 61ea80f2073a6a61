"""Single sign-on with the city's OpenID Connect provider (Authlib), when OIDC_ISSUER is set.

The provider's ID token names the person (OIDC_USERNAME_CLAIM), their department
(OIDC_DEPARTMENT_CLAIM) and their console role (OIDC_ROLE_CLAIM); what it leaves out is asked
of its userinfo endpoint. The hub keeps a user for each subject and gives it the department
and role the provider says at every sign-in. Claims without them, or naming a department or
role the hub does not know, sign nobody in; so does an answer that does not match the sign-on
this browser started (its state), an ID token that fails Authlib's checks (signature, issuer,
audience, expiry, nonce), or a provider out of reach (a page saying so, not an error).
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, redirect, request, session, url_for
from flask_babel import gettext as _
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from hub.console import signin
from hub.console.blueprint import blp
from hub.console.pages import render_page, safe_next
from hub.core.errors import Conflict, HubError
from hub.core.extensions import db
from hub.users import service as users

PROVIDER = "city"
# seconds the hub waits for each answer of the provider (discovery, keys, token)
PROVIDER_TIMEOUT = 10


def init_app(app: Flask) -> None:
    """Register the provider with a client of this app's own (Authlib's registry is per app)."""
    settings = app.config
    if not settings["OIDC_ISSUER"]:
        return
    oauth = OAuth(app)
    oauth.register(
        PROVIDER,
        client_id=settings["OIDC_CLIENT_ID"],
        client_secret=settings["OIDC_CLIENT_SECRET"],
        server_metadata_url=settings["OIDC_ISSUER"].rstrip("/")
        + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings["OIDC_SCOPES"], "default_timeout": PROVIDER_TIMEOUT},
    )
    app.extensions["hub.sso"] = oauth


def enabled() -> bool:
    """Whether people may sign in through the city's provider."""
    return "hub.sso" in current_app.extensions


def _client() -> Any:
    return current_app.extensions["hub.sso"].create_client(PROVIDER)


def _refused(message: str, status: int = 403) -> tuple[str, int]:
    return render_page(
        "console/sign_in.html",
        status,
        oidc_enabled=enabled(),
        errors={"_form": [message]},
    )


def _not_set_up() -> tuple[str, int]:
    return _refused(_("Single sign-on is not set up on this hub."), 404)


def _unreachable() -> tuple[str, int]:
    return _refused(_("The hub could not reach the sign-on provider. Try again later."), 502)


@blp.route("/sso")
def oidc_sign_in() -> Response | tuple[str, int]:
    """Send the person to the city's provider to sign in."""
    if not enabled():
        return _not_set_up()
    session["sso_next"] = request.args.get("next")
    try:
        redirected: Response = _client().authorize_redirect(
            url_for("console.oidc_callback", _external=True)
        )
    except requests.RequestException:
        return _unreachable()
    return redirected


@blp.route("/sso/callback")
def oidc_callback() -> Response | tuple[str, int]:
    """Back from the provider: check its ID token and sign the person in."""
    if not enabled():
        return _not_set_up()
    next_page = session.pop("sso_next", None)
    try:
        claims = _confirmed_claims()
    except (OAuthError, JoseError, requests.HTTPError):
        return _refused(_("The sign-on provider did not confirm who you are. Try again."))
    except requests.RequestException:
        return _unreachable()
    settings = current_app.config
    username = str(claims.get(settings["OIDC_USERNAME_CLAIM"]) or "").strip().lower()
    department = str(claims.get(settings["OIDC_DEPARTMENT_CLAIM"]) or "").strip()
    role = str(claims.get(settings["OIDC_ROLE_CLAIM"]) or "").strip()
    subject = str(claims.get("sub") or "")
    if not (subject and username and department and role):
        return _refused(_("Your sign-on account does not say your department and role."))
    try:
        user = users.user_from_claims(
            db.session, subject, username, department, role, str(claims.get("name") or "")
        )
    except Conflict:
        return _refused(
            _("A user with your username exists already on this hub. Ask an administrator.")
        )
    except HubError:
        return _refused(_("Your sign-on account names a department or role this hub lacks."))
    if users.identity_of(db.session, user) is None:
        return _refused(_("Your account or your department is disabled."))
    users.signed_in(db.session, user, request.remote_addr)
    signin.start_session(user)
    return redirect(safe_next(next_page))


def _confirmed_claims() -> dict[str, Any]:
    """The claims of the person the provider confirmed: its checked ID token's, completed
    from its userinfo endpoint (for the same subject) when the token leaves out a claim the
    hub needs, as some providers do with claims of their own."""
    client = _client()
    token = client.authorize_access_token()
    claims = dict(token.get("userinfo") or {})
    needed = (f"OIDC_{name}_CLAIM" for name in ("USERNAME", "DEPARTMENT", "ROLE"))
    if claims.get("sub") and not all(claims.get(current_app.config[name]) for name in needed):
        more = client.userinfo()
        if more.get("sub") == claims["sub"]:
            claims = {**more, **claims}
    return claims
