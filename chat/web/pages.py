"""The browser side: the chat page, login, password and logout (form posts)."""

from flask import Blueprint, redirect, render_template, request, url_for

from ..accounts import sessions
from ..errors import LoginRefused
from ..protocol.names import NAME_RULE, normalize_name
from .helpers import json_error, runtime

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """The chat page, or the login form when nobody is logged in."""
    chat = runtime()
    user = sessions.current_user(chat) if chat.settings.auth != "token" else None
    return render_template("index.html", user=user, auth=chat.settings.auth,
                           presence_limit=chat.settings.presence_limit,
                           error=request.args.get("error"), notice=request.args.get("notice"))


@bp.post("/login")
def login():
    """Log in by name and optional password (form post) and set the session cookie."""
    chat = runtime()
    if chat.settings.auth == "token":
        return json_error(403, "forbidden", "this server accepts operator-issued tokens only")
    name = normalize_name(request.form.get("name", "").strip())
    if name is None:
        return _back(error=f"A name is {NAME_RULE}.")
    try:
        user, stamp = chat.accounts.log_in(name, request.form.get("password") or None, request.remote_addr)
    except LoginRefused as exc:
        return _back(error=exc.detail)
    sessions.start_session(user, stamp)
    return _back()


@bp.post("/password")
def password():
    """Claim the logged-in name with a password, or change it (form post)."""
    chat = runtime()
    user = sessions.current_user(chat) if chat.settings.auth == "names" else None
    if user is None:
        return _back(error="Log in first.")
    try:
        stamp = chat.accounts.set_password(user, request.form.get("password", ""),
                                           request.form.get("current_password") or None)
    except LoginRefused as exc:
        return _back(error=exc.detail)
    sessions.password_changed(chat, user, stamp)
    return _back(notice="Your name now needs this password.")


@bp.post("/logout")
def logout():
    """Forget the session cookie."""
    sessions.end_session()
    return _back()


def _back(**message):
    return redirect(url_for("pages.index", **message))
