"""The headers by which every response defends itself in the browser (one place sets them)."""

from flask import request

# The page runs only its own files: no inline script or style, no plug-ins, no framing
# (click-jacking), no <base> to redirect its relative addresses, forms post only here.
# 'self' covers the same-origin ws:/wss: of the socket in current browsers (CSP Level 3).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
    "object-src 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",             # frame-ancestors for browsers without CSP 2
    "X-Content-Type-Options": "nosniff",   # a JSON or text body is never run as script
    # same-origin, not no-referrer: under no-referrer a form post says "Origin: null" and
    # the Origin check refuses it.
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000"


def register(app):
    """Add the headers to every response of `app`."""
    app.after_request(_secure)


def _secure(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Only over https (seen through a trusted proxy's X-Forwarded-Proto by ProxyFix):
    # over plain http the header is ignored, and a test server on http must stay reachable.
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
