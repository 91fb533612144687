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
    guest = bool(user) and chat.settings.auth == "names" and chat.store.password_hash(user) is None
    return render_template("index.html", user=user, auth=chat.settings.auth, guest=guest,
                           presence_limit=chat.settings.presence_limit, typed_name=request.args.get("name", ""),
                           error=request.args.get("error"), notice=request.args.get("notice"))


@bp.post("/login")
def login():
    """Log in by name and optional password (form post) and set the session cookie."""
    chat = runtime()
    if chat.settings.auth == "token":
        return json_error(403, "forbidden", "this server accepts operator-issued tokens only")
    typed = request.form.get("name", "").strip()
    name = normalize_name(typed)
    if name is None:
        return _back(error=f"A name is {NAME_RULE}.", name=typed[:64])
    try:
        user, sid = chat.accounts.log_in(name, request.form.get("password") or None, request.remote_addr)
    except LoginRefused as exc:
        return _back(error=exc.detail, name=typed[:64])
    sessions.start_session(user, sid)
    return _back()


@bp.post("/password")
def password():
    """Claim the logged-in name with a password, or change it (form post)."""
    chat = runtime()
    try:
        user = _account_holder(chat)
        sid = chat.accounts.set_password(user, request.form.get("password", ""),
                                         request.form.get("current_password") or None)
    except LoginRefused as exc:
        return _back(error=exc.detail)
    sessions.password_changed(chat, user, sid)
    return _back(notice="Your name now needs this password.")


@bp.post("/logout")
def logout():
    """End this browser's session, on the server too (a guest's name is then free)."""
    sessions.end_session(runtime())
    return _back(notice="You are logged out.")


@bp.post("/account/delete")
def delete_account():
    """Erase the logged-in account (form post, after the page's confirmation)."""
    chat = runtime()
    try:
        user = _account_holder(chat)
        chat.accounts.delete(user, request.form.get("password") or None)
    except LoginRefused as exc:
        return _back(error=exc.detail)
    sessions.end_session(chat)
    return _back(notice=f"The account {user} is deleted.")


def _account_holder(chat):
    """The logged-in user, for an operation on their own account (names mode); else LoginRefused."""
    user = sessions.current_user(chat) if chat.settings.auth == "names" else None
    if user is None:
        raise LoginRefused(401, "unauthenticated", "Log in first.")
    return user


def _back(**message):
    return redirect(url_for("pages.index", **message))
