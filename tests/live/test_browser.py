"""The page in a real browser: Chromium (Debian's) driven by Playwright."""

import pytest

from liveserver import UNLIMITED, timeout

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
SHOWN = ".thread:not([hidden])"  # the open conversation's messages


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def log_in(browser, server, user, clock=False, **context):
    """A fresh browser context (its own cookies) logged in as `user`, live.

    `clock`: the page's timers run on Playwright's clock, for tests to move forward.
    """
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(timeout(10) * 1000)
    if clock:
        page.clock.install()
    page.goto(server.url + "/")
    page.fill("#name", user)
    page.click("text=Log in")
    page.wait_for_selector("#status:text('live')")
    return page


def entry(page, name):
    """The sidebar button of a conversation ("*" for everyone)."""
    return page.locator(f"#conversations button[data-conv='{name.lower()}']")


def open_conversation(page, name):
    """Open a conversation from the sidebar (through the menu at phone width)."""
    if page.is_visible("#menu"):
        page.click("#menu")
    entry(page, name).click()
    page.wait_for_selector(f"#title:text-is('{'Everyone' if name == '*' else name}')")


def say(page, text):
    """Type `text` in the composer and press Enter."""
    page.fill("#text", text)
    page.press("#text", "Enter")


def shown(page, text):
    """The open conversation's message items with this text."""
    return page.locator(f"{SHOWN} li.msg:not(.pending)", has=page.locator(".text", has_text=text))


def test_two_users_exchange_a_direct_message(browser, server):
    """alice opens bob from the sidebar and writes; bob sees an unread count, then the message."""
    alice = log_in(browser, server, "alice_b")
    bob = log_in(browser, server, "bob_b")
    entry(alice, "bob_b").wait_for()
    assert "online" in entry(alice, "bob_b").get_attribute("class")
    open_conversation(alice, "bob_b")
    say(alice, "hi bob, just you")
    shown(alice, "hi bob, just you").wait_for()
    assert "mine" in shown(alice, "hi bob, just you").get_attribute("class")
    bob.wait_for_selector("#conversations button[data-conv='alice_b'] .unread:text-is('1')")
    assert shown(bob, "hi bob, just you").count() == 0  # bob is still in the group view
    assert "alice_b to you: hi bob, just you" in bob.inner_text("#announce")
    open_conversation(bob, "alice_b")
    item = shown(bob, "hi bob, just you")
    assert item.locator(".from").inner_text() == "alice_b"
    assert item.locator("time").inner_text()  # local time
    assert entry(bob, "alice_b").locator(".unread").inner_text() == ""
    for page in (alice, bob):
        page.context.close()


def test_three_users_group_messages_grouped_by_sender(browser, server):
    """Group messages reach all three; one sender's run shares a header; Shift+Enter is a new line."""
    pages = [log_in(browser, server, name) for name in ("ann_g", "ben_g", "cat_g")]
    ann, ben, cat = pages
    entry(cat, "ann_g").wait_for()
    open_conversation(cat, "ann_g")  # cat reads a direct conversation meanwhile
    ann.fill("#text", "line one")
    ann.press("#text", "Shift+Enter")
    ann.type("#text", "line two")
    ann.press("#text", "Enter")
    say(ann, "and a second message")
    say(ben, "ben answers")
    for page in (ann, ben):
        shown(page, "ben answers").wait_for()
        texts = page.locator(f"{SHOWN} li.msg .text").all_inner_texts()
        assert texts[-3:] == ["line one\nline two", "and a second message", "ben answers"]
        classes = [page.locator(f"{SHOWN} li.msg").nth(i).get_attribute("class") for i in range(-3, 0)]
        assert ["cont" in c for c in classes] == [False, True, False]  # ann's run, then ben's
    cat.wait_for_selector("#conversations button[data-conv='*'] .unread:text-is('3')")
    open_conversation(cat, "*")
    shown(cat, "ben answers").wait_for()
    assert entry(cat, "*").locator(".unread").inner_text() == ""
    for page in pages:
        page.context.close()


def test_presence_dots_follow_people(browser, server):
    """Someone who leaves shows offline; they stay in the sidebar once talked to."""
    eve = log_in(browser, server, "eve_p")
    fay = log_in(browser, server, "fay_p")
    entry(eve, "fay_p").wait_for()
    open_conversation(fay, "eve_p")
    say(fay, "bye soon")
    fay.context.close()
    eve.wait_for_selector("#conversations button[data-conv='fay_p']:not(.online)")
    assert "offline" in entry(eve, "fay_p").get_attribute("aria-label")
    eve.context.close()


def test_past_the_presence_limit_the_page_asks_who_is_online(browser, start_server):
    """Once comings and goings are no longer pushed, the page asks /api/users every 30 s."""
    srv = start_server(CHAT_PRESENCE_LIMIT="2")
    page = log_in(browser, srv, "gil_c", clock=True)
    bob = srv.connect("bob_c")
    bob.sync()
    entry(page, "bob_c").wait_for()  # the second user online: still pushed
    cid = srv.connect("cid_c")
    cid.sync()  # the third: past the limit, not pushed
    page.wait_for_timeout(500)
    assert entry(page, "cid_c").count() == 0
    page.clock.fast_forward("00:31")
    page.wait_for_selector("#conversations button[data-conv='cid_c'].online")
    for client in (bob, cid):
        client.close()
    page.context.close()


def test_a_message_sent_during_a_restart_shows_once(browser, start_server):
    """The server restarts; a message sent to the page while it is away shows exactly once."""
    srv = start_server()
    page = log_in(browser, srv, "dora_r")
    friend = srv.connect("finn_r")
    friend.sync()
    friend.send(to_user="dora_r", msg="before the restart", cid="r1")
    page.wait_for_selector("#conversations button[data-conv='finn_r'] .unread:text-is('1')")
    friend.close()
    srv.stop()
    page.wait_for_selector("#status[data-state='reconnecting']")
    srv.start()
    friend = srv.connect("finn_r")
    friend.sync()
    friend.send(to_user="dora_r", msg="while you were away", cid="r2")
    friend.recv_until(lambda f: f.get("cid") == "r2")
    page.wait_for_selector("#status[data-state='live']", timeout=timeout(20) * 1000)
    page.wait_for_selector("#conversations button[data-conv='finn_r'] .unread:text-is('2')")
    open_conversation(page, "finn_r")
    say(page, "back again")
    assert friend.recv_until(lambda f: f.get("msg") == "back again")["from_user"] == "dora_r"
    shown(page, "back again").wait_for()
    assert page.locator(f"{SHOWN} li.msg .text").all_inner_texts() == \
        ["before the restart", "while you were away", "back again"]
    friend.close()
    page.context.close()


def test_a_message_typed_while_offline_goes_when_back(browser, start_server):
    """Sent while the server is down, a message waits ("sending…") and is delivered once after."""
    srv = start_server()
    page = log_in(browser, srv, "gus_o")
    srv.stop()
    page.wait_for_selector("#status[data-state='reconnecting']")
    say(page, "written offline")
    page.wait_for_selector("li.pending:has-text('written offline')")
    srv.start()
    shown(page, "written offline").wait_for(timeout=timeout(20) * 1000)
    assert page.locator("li.pending").count() == 0
    assert page.locator(f"{SHOWN} li.msg .text", has_text="written offline").count() == 1
    page.context.close()


def test_the_page_scrolls_back_through_history(browser, start_server):
    """The page opens on the last 50; scrolling up brings the rest, in order, once each."""
    srv = start_server(**UNLIMITED)
    writer = srv.connect("writer")
    writer.sync()
    for i in range(70):
        writer.send(msg=f"old {i:02d}", cid=f"o{i}")
    for i in range(70):
        writer.recv_until(lambda f, i=i: f.get("cid") == f"o{i}")
    writer.close()
    page = log_in(browser, srv, "reader_b")
    shown(page, "old 69").wait_for()
    assert page.locator(f"{SHOWN} li.msg").count() == 50
    page.eval_on_selector("#threads", "box => { box.scrollTop = 0; }")
    shown(page, "old 00").wait_for()
    assert page.locator(f"{SHOWN} li.msg .text").all_inner_texts() == [f"old {i:02d}" for i in range(70)]
    page.wait_for_selector("#older:text('Start of the conversation')")
    page.context.close()


def test_chinese_emoji_and_long_words_display_whole_at_phone_width(browser, server):
    """A Chinese name, Chinese text, emoji and a 300-letter word, on a 375 px wide screen."""
    phone = {"viewport": {"width": 375, "height": 700}, "is_mobile": True, "has_touch": True}
    li = log_in(browser, server, "李雷", **phone)
    han = log_in(browser, server, "韩梅梅", **phone)
    assert han.is_visible("#menu") and not han.is_visible("#sidebar")
    open_conversation(han, "李雷")
    long_word = "长" * 150 + "x" * 150
    for text in ("你好，李雷！👋🏽👨‍👩‍👧", long_word):
        han.fill("#text", text)
        han.tap("#composer button")  # on a touch keyboard Enter adds a line: Send sends
    open_conversation(li, "韩梅梅")
    for text in ("你好，李雷！👋🏽👨‍👩‍👧", long_word):
        assert shown(li, text).locator(".text").inner_text() == text
        assert shown(li, text).locator(".from").inner_text() == "韩梅梅"
    for page in (li, han):
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        box = page.locator(f"{SHOWN} li.msg").last.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert page.is_visible("#text") and page.is_visible("#composer button")
    for page in (li, han):
        page.context.close()


def test_the_composer_and_conversations_are_labelled_and_reachable_by_keyboard(browser, server):
    """Every control has a name; Tab reaches the conversations before the composer."""
    page = log_in(browser, server, "kay_a")
    assert page.get_by_label("Message to Everyone").count() == 1
    assert page.get_by_role("navigation", name="Conversations").count() == 1
    assert page.get_attribute("#announce", "aria-live") == "polite"
    order = []
    for _ in range(16):  # the sidebar's room controls come between the two
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.dataset.conv || "
                                   "document.activeElement.textContent.trim()"))
    assert order.index("*") < order.index("text"), order
    page.context.close()


@pytest.mark.parametrize("payload", [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
])
def test_markup_in_messages_shows_as_text_and_runs_nothing(browser, server, payload):
    """Live and from history, an XSS payload is shown literally; no dialog ever opens."""
    tag = sum(map(ord, payload)) % 100000  # each payload its own names: a guest holds its name
    sender = log_in(browser, server, f"xss_sender{tag}")
    dialogs = []
    sender.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    say(sender, payload)
    for page in (sender, log_in(browser, server, f"xss_reader{tag}")):  # live, then from the backlog
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        item = shown(page, payload).last
        assert item.locator(".text").inner_text() == payload
        assert page.locator("#threads img, #threads script, #threads svg, #threads a").count() == 0
        page.wait_for_timeout(200)
        page.context.close()
    assert dialogs == []


def submit_login(browser, server, user, password=None):
    """A fresh browser context's page with the login form sent for `user` (no wait for live)."""
    page = browser.new_context().new_page()
    page.goto(server.url + "/")
    page.fill("#name", user)
    if password:
        page.fill("#password", password)
    page.click("text=Log in")
    return page


def set_password(page, new, current=None):
    """Save a password from the chat page's Password form."""
    page.click("summary:text('Password')")
    page.fill("#new-password", new)
    if current:
        page.fill("#current-password", current)
    page.click("text=Save password")


def test_a_name_claimed_on_the_page_needs_its_password(browser, server):
    """Set a password from the chat page; a later login without it is refused, with it let in."""
    page = log_in(browser, server, "claimer_b")
    set_password(page, "a long enough password")
    page.wait_for_selector("[role=status]:text('needs this password')")
    page.context.close()
    other = submit_login(browser, server, "claimer_b")
    assert "wrong or missing" in other.inner_text("[role=alert]")
    other.fill("#name", "claimer_b")
    other.fill("#password", "a long enough password")
    other.click("text=Log in")
    other.wait_for_selector("#status:text('live')")
    other.context.close()


def test_a_refused_login_says_why_and_keeps_the_name(browser, server):
    """A name held by a guest online: the login form says it is in use and keeps what was typed."""
    holder = log_in(browser, server, "held_b")
    other = submit_login(browser, server, "held_b")
    assert "in use" in other.inner_text("[role=alert]")
    assert other.input_value("#name") == "held_b"
    other.context.close()
    holder.context.close()


def test_a_session_ended_elsewhere_shows_the_login_form_and_keeps_the_draft(browser, server):
    """The password changed from another session: this page says so and keeps the draft for after."""
    first = log_in(browser, server, "ender_b")
    set_password(first, "the first password")
    first.wait_for_selector("#status:text('live')")
    second = submit_login(browser, server, "ender_b", "the first password")
    second.wait_for_selector("#status:text('live')")
    first.fill("#text", "half a thought")
    set_password(second, "the second password", "the first password")
    first.wait_for_selector("#login [role=status]:text('session ended')")
    first.fill("#name", "ender_b")
    first.fill("#password", "the second password")
    first.click("text=Log in")
    first.wait_for_selector("#status:text('live')")
    assert first.input_value("#text") == "half a thought"
    first.context.close()
    second.context.close()


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
    open_conversation(page, "sse_friend")
    shown(page, "reaches the page by SSE").wait_for()
    say(page, "answered by POST")
    assert friend.recv_until(lambda f: f.get("msg") == "answered by POST")["from_user"] == "sse_page"
    shown(page, "answered by POST").wait_for()
    assert shown(page, "answered by POST").count() == 1
    friend.close()
    context.close()


def room_entry(page, room):
    """The sidebar button of a room."""
    return page.locator(f"#rooms button[data-room='{room.lower()}']")


def create_room(page, room, topic="", private=False):
    """Fill in and send the "New room" form."""
    if not page.is_visible("#room-name"):
        page.click("summary:text('New room')")
    page.fill("#room-name", room)
    page.fill("#room-topic", topic)
    page.set_checked("#room-private", private)
    page.click("text=Create room")


def events_shown(page):
    """The member events of the open conversation's timeline, as text."""
    return page.locator(f"{SHOWN} li.event").all_inner_texts()


def page_errors(*pages):
    """The uncaught errors of these pages' scripts, as they happen."""
    errors = []
    for page in pages:
        page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def member(page, user):
    """The open room's member list entry of `user`."""
    return page.locator(f"#members li[data-user='{user.lower()}']")


def test_two_people_create_join_talk_in_and_leave_a_room(browser, server):
    """ana creates a room, a taken name is refused, ben joins from Browse rooms with one click;
    they talk, unread counts follow, ben leaves; every step shows on both pages."""
    ana = log_in(browser, server, "ana_room")
    ben = log_in(browser, server, "ben_room")
    errors = page_errors(ana, ben)
    create_room(ana, "Plaza_b", topic="all welcome")
    ana.wait_for_selector("#title:text-is('Plaza_b')")
    ana.wait_for_selector("#room-topic-text:text-is('all welcome')")
    member(ana, "ana_room").wait_for()
    assert "online" in member(ana, "ana_room").get_attribute("class")
    assert ana.inner_text("#members-summary") == "Members (1)"
    assert ana.is_hidden("#add-member")  # anyone may join a public room by themselves
    ana.wait_for_function("() => location.hash === '#room/Plaza_b'")

    create_room(ben, "PLAZA_B")
    ben.wait_for_selector("#new-room-error:text('The name PLAZA_B is taken')")
    assert room_entry(ben, "plaza_b").count() == 0
    ben.click("summary:text('Browse rooms')")
    ben.click("#public-rooms li[data-room='plaza_b'] button:text('Join')")
    ben.wait_for_selector("#title:text-is('Plaza_b')")
    ben.locator("#public-rooms li[data-room='plaza_b']").wait_for(state="detached")
    ana.wait_for_selector(f"{SHOWN} li.event:text('ben_room joined')")
    member(ana, "ben_room").wait_for()
    assert ana.inner_text("#members-summary") == "Members (2)"

    say(ben, "hello plaza")
    shown(ana, "hello plaza").wait_for()
    assert shown(ana, "hello plaza").locator(".from").inner_text() == "ben_room"
    open_conversation(ana, "*")
    say(ben, "are you there?")
    ana.wait_for_selector("#rooms button[data-room='plaza_b'] .unread:text-is('1')")
    assert "ben_room in Plaza_b: are you there?" in ana.inner_text("#announce")
    room_entry(ana, "plaza_b").click()
    shown(ana, "are you there?").wait_for()
    assert room_entry(ana, "plaza_b").locator(".unread").inner_text() == ""

    ben.click("#leave-room")
    ben.wait_for_selector("#title:text-is('Everyone')")
    assert room_entry(ben, "plaza_b").count() == 0
    ana.wait_for_selector(f"{SHOWN} li.event:text('ben_room left')")
    member(ana, "ben_room").wait_for(state="detached")
    assert events_shown(ana) == ["ana_room joined", "ben_room joined", "ben_room left"]
    say(ana, "alone now")
    shown(ana, "alone now").wait_for()

    again = log_in(browser, server, "ben_room2")  # a fresh page reads the room's history and events
    again.goto(server.url + "/#room/plaza_b")
    again.wait_for_selector("#room-alert:text('You are not in Plaza_b')")
    again.click("#room-alert button:text('Join Plaza_b')")
    again.wait_for_selector("#title:text-is('Plaza_b')")
    shown(again, "alone now").wait_for()
    assert errors == []
    for page in (ana, ben, again):
        page.context.close()


def test_a_private_room_is_for_its_members_only(browser, server):
    """ana makes a private room and adds ben, who finds it in his sidebar at once; cal cannot see
    it in Browse rooms nor reach it by its address or the API; member dots follow presence."""
    ana = log_in(browser, server, "ana_priv")
    ben = log_in(browser, server, "ben_priv")
    cal = log_in(browser, server, "cal_priv")
    errors = page_errors(ana, ben, cal)
    create_room(ana, "open_priv")
    ana.wait_for_selector("#title:text-is('open_priv')")
    create_room(ana, "vault_priv", private=True)
    ana.wait_for_selector("#title:text-is('vault_priv')")
    ana.wait_for_selector("#room-topic-text:text-is('A private room')")
    ana.fill("#add-name", "nobody_priv")
    ana.click("#add-member button")
    ana.wait_for_selector("#room-bar-error:text('Nobody called nobody_priv has logged in')")
    ana.fill("#add-name", "ben_priv")
    ana.click("#add-member button")
    ana.wait_for_selector(f"{SHOWN} li.event:text('ana_priv added ben_priv')")
    member(ana, "ben_priv").wait_for()
    ana.wait_for_function("() => document.getElementById('add-name').value === ''")  # the form is cleared

    room_entry(ben, "vault_priv").wait_for()
    assert "ana_priv added you to vault_priv" in ben.inner_text("#announce")
    room_entry(ben, "vault_priv").click()
    ben.wait_for_selector(f"{SHOWN} li.event:text('ana_priv added ben_priv')")
    say(ben, "between us")
    shown(ana, "between us").wait_for()

    cal.click("summary:text('Browse rooms')")
    cal.wait_for_selector("#public-rooms li[data-room='open_priv']")
    assert cal.locator("#public-rooms li[data-room='vault_priv']").count() == 0
    cal.goto(server.url + "/#room/vault_priv")
    cal.wait_for_selector("#room-alert:text('There is no room called vault_priv')")
    assert room_entry(cal, "vault_priv").count() == 0
    assert cal.inner_text("#title") == "Everyone"
    statuses = cal.evaluate("""async () => Promise.all(
        ['/api/rooms/vault_priv', '/api/rooms/vault_priv/members', '/api/messages?room=vault_priv']
        .map(async (path) => (await fetch(path)).status))""")
    assert statuses == [404, 404, 404]
    assert cal.locator("text=between us").count() == 0

    ben.context.close()
    ana.wait_for_selector("#members li[data-user='ben_priv']:not(.online)")
    assert "offline" in member(ana, "ben_priv").inner_text()
    assert errors == []
    for page in (ana, cal):
        page.context.close()
