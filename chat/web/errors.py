"""JSON answers for every HTTP error and crash, and the refusal of cross-site posts."""

import math

from flask import request
from werkzeug.exceptions import HTTPException

from ..accounts.handshake import origin_allowed
from ..errors import FrameRejected, Refused
from .helpers import json_error, runtime

# A refused frame's or body's error code, as an HTTP status.
REJECTION_STATUS = {"bad_json": 400, "bad_message": 400, "too_long": 413, "unknown_user": 404, "rate_limited": 429,
                    "unknown_room": 404, "not_member": 403, "not_found": 404, "forbidden": 403}


def register_handlers(app):
    """Answer every HTTP error, and any crash, in JSON with no traceback; refuse cross-site posts."""

    @app.errorhandler(HTTPException)
    def http_error(exc):
        """Any HTTP error (404, 405, 413, ...) as a JSON error with the same status and headers."""
        code = (exc.name or "error").lower().replace(" ", "_")
        response = json_error(exc.code or 500, code, exc.description or exc.name)
        for name, value in exc.get_headers():  # Allow on 405, for one
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Refused)
    def refused(exc):
        """A refused request (a log-in, a room), with Retry-After while a rate limit holds."""
        response = json_error(exc.status, exc.code, exc.detail)
        if exc.retry_after:
            response.headers["Retry-After"] = str(math.ceil(exc.retry_after))
        return response

    @app.errorhandler(FrameRejected)
    def frame_rejected(exc):
        """A refused message or JSON body, with Retry-After when rate limited."""
        response = json_error(REJECTION_STATUS.get(exc.code, 400), exc.code, exc.detail)
        if exc.code == "rate_limited":
            response.headers["Retry-After"] = str(math.ceil(1 / runtime().settings.rate_per_second))
        return response

    @app.before_request
    def cross_site_post():
        """Refuse a POST from a foreign Origin: cookies make every POST a forgery target."""
        if request.method == "POST" and not origin_allowed(request.environ, runtime().settings.allowed_origins):
            return json_error(403, "bad_origin", "this Origin may not post here")
        return None

    @app.errorhandler(Exception)
    def crash(exc):
        """Log a crash; the client gets a JSON 500 without the traceback."""
        app.logger.exception("request failed: %s", exc)
        return json_error(500, "internal_error", "the server failed; the error is logged")
