"""The page in a real browser: Chromium (Debian's) driven by Playwright."""

import pytest

from liveserver import UNLIMITED, timeout

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def log_in(browser, server, user):
    """A fresh browser context (its own cookies) logged in as `user`, live."""
    page = browser.new_context().new_page()
    page.set_default_timeout(timeout(10) * 1000)
    page.goto(server.url + "/")
    page.fill("#name", user)
    page.click("text=Log in")
    page.wait_for_selector("#status:text('live')")
    return page


def test_two_users_exchange_a_direct_message(browser, server):
    """alice picks bob, writes to him; both pages show it with sender and time; text stays text."""
    alice = log_in(browser, server, "alice_b")
    bob = log_in(browser, server, "bob_b")
    alice.wait_for_selector("#to option[value='bob_b']", state="attached")
    alice.select_option("#to", "bob_b")
    payload = "<img src=x onerror=\"document.title='pwned'\"> hi bob"
    alice.fill("#text", payload)
    alice.click("#composer button")
    for page in (alice, bob):
        item = page.wait_for_selector("#messages li.direct")
        assert item.query_selector(".text").inner_text() == payload
        assert "alice_b → bob_b" in item.query_selector(".meta").inner_text()
        assert page.query_selector("#messages img") is None
        assert page.title() != "pwned"
    assert "alice_b" in bob.inner_text("#online")
    bob.fill("#text", "hello everyone")
    bob.press("#text", "Enter")
    alice.wait_for_selector("#messages li.group:has-text('hello everyone')")
    for page in (alice, bob):
        page.context.close()


def test_the_page_reconnects_after_the_server_restarts(browser, start_server):
    """When the socket drops the page reconnects by itself and catches up with since."""
    srv = start_server()
    page = log_in(browser, srv, "carol_b")
    page.fill("#text", "before the restart")
    page.click("#composer button")
    page.wait_for_selector("#messages li:has-text('before the restart')")
    srv.stop()
    page.wait_for_selector("#status:text('reconnecting')")
    srv.start()
    page.wait_for_selector("#status:text('live')", timeout=timeout(20) * 1000)
    page.fill("#text", "after the restart")
    page.click("#composer button")
    page.wait_for_selector("#messages li:has-text('after the restart')")
    assert page.locator("#messages li:has-text('before the restart')").count() == 1
    page.context.close()


def test_the_page_scrolls_back_through_history(browser, start_server):
    """The page opens on the last 50; "Load older" brings the rest, in order, once each."""
    srv = start_server(**UNLIMITED)
    writer = srv.connect("writer")
    writer.sync()
    for i in range(70):
        writer.send(msg=f"old {i:02d}", cid=f"o{i}")
    for i in range(70):
        writer.recv_until(lambda f, i=i: f.get("cid") == f"o{i}")
    writer.close()
    page = log_in(browser, srv, "reader_b")
    page.wait_for_selector("#messages li:has-text('old 69')")
    assert page.locator("#messages li").count() == 50
    page.click("#older")
    page.wait_for_selector("#messages li:has-text('old 00')")
    texts = page.locator("#messages li .text").all_inner_texts()
    assert texts == [f"old {i:02d}" for i in range(70)]
    page.context.close()


@pytest.mark.parametrize("payload", [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
])
def test_markup_in_messages_shows_as_text_and_runs_nothing(browser, server, payload):
    """Live and from history, an XSS payload is shown literally; no dialog ever opens."""
    sender = log_in(browser, server, "xss_sender")
    dialogs = []
    sender.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    sender.fill("#text", payload)
    sender.press("#text", "Enter")
    for page in (sender, log_in(browser, server, "xss_reader")):  # live, then from the backlog
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        item = page.locator("#messages li", has_text=payload).last
        assert item.locator(".text").inner_text() == payload
        assert page.locator("#messages img, #messages script, #messages svg, #messages a").count() == 0
        page.wait_for_timeout(200)
        page.context.close()
    assert dialogs == []


def test_a_name_claimed_on_the_page_needs_its_password(browser, server):
    """Set a password from the chat page; a later login without it is refused, with it let in."""
    page = log_in(browser, server, "claimer_b")
    page.click("summary:text('Password')")
    page.fill("#new-password", "a long enough password")
    page.click("text=Save password")
    page.wait_for_selector("[role=status]:text('needs this password')")
    page.context.close()
    other = browser.new_context().new_page()
    other.goto(server.url + "/")
    other.fill("#name", "claimer_b")
    other.click("text=Log in")
    assert "wrong or missing" in other.inner_text("[role=alert]")
    other.fill("#name", "claimer_b")
    other.fill("#password", "a long enough password")
    other.click("text=Log in")
    other.wait_for_selector("#status:text('live')")
    other.context.close()


def test_the_page_falls_back_to_events_when_sockets_are_blocked(browser, server):
    """With every WebSocket cut before its hello, the page uses SSE and POST, both ways."""
    context = browser.new_context()
    context.route_web_socket("**/ws/**", lambda route: route.close())  # a proxy that kills upgrades
    page = context.new_page()
    page.set_default_timeout(timeout(15) * 1000)
    page.goto(server.url + "/")
    page.fill("#name", "sse_page")
    page.click("text=Log in")
    page.wait_for_selector("#status:text('live (events)')")
    friend = server.connect("sse_friend")
    friend.sync()
    friend.send(to_user="sse_page", msg="reaches the page by SSE")
    page.wait_for_selector("#messages li:has-text('reaches the page by SSE')")
    page.wait_for_selector("#to option[value='sse_friend']", state="attached")
    page.select_option("#to", "sse_friend")
    page.fill("#text", "answered by POST")
    page.press("#text", "Enter")
    assert friend.recv_until(lambda f: f.get("msg") == "answered by POST")["from_user"] == "sse_page"
    page.wait_for_selector("#messages li:has-text('answered by POST')")
    assert page.locator("#messages li:has-text('answered by POST')").count() == 1
    friend.close()
    context.close()
