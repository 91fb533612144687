"""The page defends itself: its CSP, framing refused, fixed messages, a favicon; and the phone layout."""

import contextlib
import http.server
import re
import threading

from liveserver import timeout
from test_browser import browser, log_in, say, shown  # noqa: F401  (browser: the fixture)

ATTACK = "Our server moved. Log in at https://evil.example"
VIOLATIONS = """() => { window.violations = [];
  document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective)); }"""


def test_the_page_works_under_its_content_security_policy(browser, server):  # noqa: F811
    """Log in, send, receive: all under a strict CSP, and the browser reports no violation."""
    policy = server.get("/")[2]["Content-Security-Policy"]
    for directive in ("script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy
    pages, console = [], []
    for user in ("csp_ann", "csp_ben"):
        context = browser.new_context()
        context.add_init_script(script=f"({VIOLATIONS})()")
        page = context.new_page()
        page.on("console", lambda message: console.append(message.text))
        page.set_default_timeout(timeout(10) * 1000)
        page.goto(server.url + "/")
        page.fill("#name", user)
        page.click("text=Log in")
        page.wait_for_selector("#status:text('live')")
        pages.append(page)
    ann, ben = pages
    say(ann, "under the policy")
    shown(ben, "under the policy").wait_for()
    for page in pages:
        assert page.evaluate("window.violations") == []
        page.context.close()
    assert not [text for text in console if "Content Security Policy" in text], console


def test_another_page_cannot_frame_the_chat(browser, server):  # noqa: F811
    """A page on another port of the same host puts the logged-in chat in an iframe: it stays empty."""
    page = log_in(browser, server, "framed_ann")
    trap = f'<p>win a prize</p><iframe src="{server.url}/"></iframe>'.encode()
    with other_origin(trap) as other:  # a real server: Chromium treats a faked one as public
        page.goto(other)
        page.wait_for_function("() => window.frames.length === 1")
        frame = page.frames[1]
        frame.wait_for_load_state()
        assert frame.locator("#chat").count() == 0 and frame.locator("#composer").count() == 0
    page.context.close()


@contextlib.contextmanager
def other_origin(body):
    """An HTTP server on another port of 127.0.0.1 answering every GET with the HTML `body`."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/trap"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout(5))


def test_every_response_carries_the_headers(server):
    """The page, an API answer (an error too) and a static file: nosniff, no framing, no referrer elsewhere."""
    for path in ("/", "/api/users", "/static/chat.css", "/no/such/page"):
        _, _, headers = server.get(path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert "Strict-Transport-Security" not in headers, path


def test_hsts_only_over_https_through_a_trusted_proxy(server, start_server):
    """Strict-Transport-Security when a trusted proxy says https; never over plain http."""
    behind = start_server(CHAT_TRUSTED_PROXIES="1")
    https = {"X-Forwarded-Proto": "https"}
    assert "max-age=" in behind.get("/", https)[2]["Strict-Transport-Security"]
    assert "max-age=" in behind.get("/api/users", https)[2]["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in behind.get("/")[2]
    assert "Strict-Transport-Security" not in server.get("/", https)[2]  # nobody trusted to say so


def test_the_page_shows_only_its_own_words(browser, server):  # noqa: F811
    """?error= and ?notice= carry codes: text from the address never shows; a known code shows its message."""
    for query in ("error", "notice"):
        _, body, _ = server.get(f"/?{query}={ATTACK.replace(' ', '+')}")
        assert "evil.example" not in body and "server moved" not in body
    assert "try again" in server.get("/?error=made_up")[1]
    assert "You are logged out." in server.get("/?notice=logged_out")[1]
    page = browser.new_context().new_page()
    page.goto(server.url + "/")
    page.fill("#name", "no spaces allowed")
    page.click("text=Log in")
    page.wait_for_selector("[role=alert]:text('A name is')")
    assert "error=bad_name" in page.url
    page.goto(server.url + f"/?error={ATTACK}")
    assert "evil.example" not in page.content()
    page.context.close()


def test_the_favicon_is_served(server):
    """/favicon.ico (where browsers look unasked) and the page's own icon link answer 200."""
    status, _, headers = server.get("/favicon.ico")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
    link = re.search(r'<link rel="icon" href="([^"]+)"', server.get("/")[1]).group(1)
    assert server.get(link)[0] == 200


def test_on_a_phone_the_placeholder_fits_and_enter_adds_a_line(browser, server):  # noqa: F811
    """360 px wide with a touch screen: the placeholder fits one line; Enter is a new line, Send sends."""
    phone = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
    page = log_in(browser, server, "phone_ann", **phone)
    fits = page.evaluate("""() => {
        const text = document.getElementById("text"), style = getComputedStyle(text);
        const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = `${style.fontSize} ${style.fontFamily}`;
        const room = text.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return [ctx.measureText(text.placeholder).width, room]; }""")
    assert fits[0] <= fits[1], fits
    page.fill("#text", "first line")
    page.press("#text", "Enter")
    page.type("#text", "second line")
    assert page.input_value("#text") == "first line\nsecond line"
    assert page.locator("li.msg", has_text="first line").count() == 0  # nothing sent yet
    page.tap("#composer button")
    assert shown(page, "second line").locator(".text").inner_text() == "first line\nsecond line"
    assert page.input_value("#text") == ""
    page.context.close()
