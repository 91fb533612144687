"""The browser side: the chat page, login, password and logout (form posts)."""

from flask import Blueprint, current_app, redirect, render_template, request, send_from_directory, url_for

from ..accounts import sessions
from ..accounts.passwords import MAX_PASSWORD, MIN_PASSWORD
from ..errors import LoginRefused
from ..protocol.names import NAME_RULE, normalize_name
from .helpers import json_error, runtime

bp = Blueprint("pages", __name__)

# What the page may say after a redirect, by the code in its address (?error=, ?notice=):
# never text from the address itself, which anyone can write into a link ("our server
# moved, log in at ..."). An unknown code shows the generic message.
ERRORS = {
    "bad_name": f"A name is {NAME_RULE}.",
    "name_taken": "That name is in use: log in where you took it, and set a password there to use it elsewhere.",
    "bad_password": "That name is claimed: the password is wrong or missing.",
    "weak_password": f"A password is {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
    "too_many_attempts": "Too many failed log-ins: try again later.",
    "too_many_accounts": "Too many new accounts from your network: try again later.",
    "busy": "Too many log-ins at once: try again shortly.",
    "conflict": "The password changed meanwhile: log in again.",
    "unauthenticated": "Log in first.",
}
NOTICES = {
    "password_set": "Your name now needs this password.",
    "logged_out": "You are logged out.",
    "account_deleted": "Your account is deleted.",
    "session_ended": "Your session ended (logged out, or the password changed). Log in again; your draft is kept.",
}
GENERIC_ERROR = "That did not work: try again."


@bp.get("/")
def index():
    """The chat page, or the login form when nobody is logged in."""
    chat = runtime()
    user = sessions.current_user(chat) if chat.settings.auth != "token" else None
    guest = bool(user) and chat.settings.auth == "names" and chat.store.password_hash(user) is None
    return render_template("index.html", user=user, auth=chat.settings.auth, guest=guest,
                           presence_limit=chat.settings.presence_limit, typed_name=request.args.get("name", ""),
                           error=_fixed(ERRORS, request.args.get("error")),
                           notice=_fixed(NOTICES, request.args.get("notice")))


@bp.get("/favicon.ico")
def favicon():
    """The page's icon, where browsers look for it without being told (no 404 in the logs)."""
    return send_from_directory(current_app.static_folder, "favicon.svg", mimetype="image/svg+xml",
                               max_age=86400)


@bp.post("/login")
def login():
    """Log in by name and optional password (form post) and set the session cookie."""
    chat = runtime()
    if chat.settings.auth == "token":
        return json_error(403, "forbidden", "this server accepts operator-issued tokens only")
    typed = request.form.get("name", "").strip()
    name = normalize_name(typed)
    if name is None:
        return _back(error="bad_name", name=typed[:64])
    try:
        user, sid = chat.accounts.log_in(name, request.form.get("password") or None, request.remote_addr)
    except LoginRefused as exc:
        return _back(error=exc.code, name=typed[:64])
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
        return _back(error=exc.code)
    sessions.password_changed(chat, user, sid)
    return _back(notice="password_set")


@bp.post("/logout")
def logout():
    """End this browser's session, on the server too (a guest's name is then free)."""
    sessions.end_session(runtime())
    return _back(notice="logged_out")


@bp.post("/account/delete")
def delete_account():
    """Erase the logged-in account (form post, after the page's confirmation)."""
    chat = runtime()
    try:
        user = _account_holder(chat)
        chat.accounts.delete(user, request.form.get("password") or None)
    except LoginRefused as exc:
        return _back(error=exc.code)
    sessions.end_session(chat)
    return _back(notice="account_deleted")


def _account_holder(chat):
    """The logged-in user, for an operation on their own account (names mode); else LoginRefused."""
    user = sessions.current_user(chat) if chat.settings.auth == "names" else None
    if user is None:
        raise LoginRefused(401, "unauthenticated", "Log in first.")
    return user


def _fixed(messages, code):
    """The fixed text of `code` (None when there is no code; the generic error when unknown)."""
    if not code:
        return None
    return messages.get(code, GENERIC_ERROR if messages is ERRORS else None)


def _back(**message):
    return redirect(url_for("pages.index", **message))
