"""The browser side: the chat page, login and logout."""

from flask import Blueprint, redirect, render_template, request, session, url_for

from . import protocol
from .api import json_error, services

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """The chat page, or the login form when nobody is logged in."""
    chat = services()
    user = session.get("user") if chat.settings.auth != "token" else None
    return render_template("index.html", user=user, auth=chat.settings.auth, error=request.args.get("error"))


@bp.post("/login")
def login():
    """Log in by name (form post from the page) and set the session cookie."""
    chat = services()
    if chat.settings.auth == "token":
        return json_error(403, "forbidden", "this server accepts operator-issued tokens only")
    name = protocol.normalize_name(request.form.get("name", "").strip())
    if name is None:
        return redirect(url_for("pages.index", error="A name is 1-32 letters, digits, _ - or ."))
    session.clear()
    session["user"] = chat.store.remember_user(name)
    return redirect(url_for("pages.index"))


@bp.post("/logout")
def logout():
    """Forget the session cookie."""
    session.clear()
    return redirect(url_for("pages.index"))
