"""Single sign-on with the city's OpenID Connect provider (Authlib), when OIDC_ISSUER is set.

The provider's ID token names the person (OIDC_USERNAME_CLAIM), their department
(OIDC_DEPARTMENT_CLAIM) and their console role (OIDC_ROLE_CLAIM); the hub keeps a user for
each subject and gives it the department and role the provider says at every sign-in. A token
without them, or naming a department the hub does not know, signs nobody in.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, redirect, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from hub.console import signin
from hub.console.blueprint import blp
from hub.console.pages import render_page, safe_next
from hub.core.errors import HubError
from hub.core.extensions import db
from hub.users import service as users

PROVIDER = "city"


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
        client_kwargs={"scope": settings["OIDC_SCOPES"]},
    )
    app.extensions["hub.sso"] = oauth


def enabled() -> bool:
    """Whether people may sign in through the city's provider."""
    return "hub.sso" in current_app.extensions


def _client() -> Any:
    return current_app.extensions["hub.sso"].create_client(PROVIDER)


def _refused(message: str) -> tuple[str, int]:
    return render_page("console/sign_in.html", 403, oidc_enabled=True, errors={"_form": [message]})


@blp.route("/sso")
def sso_start() -> Response | tuple[str, int]:
    """Send the person to the city's provider to sign in."""
    if not enabled():
        return _refused(_("Single sign-on is not set up on this hub."))
    session["sso_next"] = request.args.get("next")
    redirected: Response = _client().authorize_redirect(
        url_for("console.sso_callback", _external=True)
    )
    return redirected


@blp.route("/sso/callback")
def sso_callback() -> Response | tuple[str, int]:
    """Back from the provider: check its ID token and sign the person in."""
    if not enabled():
        return _refused(_("Single sign-on is not set up on this hub."))
    try:
        token = _client().authorize_access_token()
    except OAuthError:
        return _refused(_("The sign-on provider did not confirm who you are. Try again."))
    claims = token.get("userinfo") or {}
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
    except HubError:
        return _refused(_("Your sign-on account names a department or role this hub lacks."))
    if users.identity_of(db.session, user) is None:
        return _refused(_("Your account or your department is disabled."))
    users.signed_in(db.session, user, request.remote_addr)
    next_page = session.pop("sso_next", None)
    signin.start_session(user)
    return redirect(safe_next(next_page))
