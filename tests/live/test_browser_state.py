"""The page's conversation state in a real browser, two people in two browser contexts:
typing, edits, deletes, links and the tab's unread count, all under the page's CSP."""

import pytest

from liveserver import timeout
from test_browser import browser, entry, open_conversation, say, shown  # noqa: F401  (browser: the fixture)
from test_page_security import VIOLATIONS

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def people(browser, server):  # noqa: F811
    """log_in(name, clock=False, sockets=None, **context): a page logged in as `name` in a
    context of its own (its sockets through the handler `sockets`, if given), live. After the test, no page saw a CSP violation (in its events or its console)."""
    pages, console = [], []

    def log_in(user, clock=False, sockets=None, **options):
        context = browser.new_context(**options)
        context.add_init_script(script=f"({VIOLATIONS})()")
        if sockets:
            context.route_web_socket("**/ws/**", sockets)
        page = context.new_page()
        page.on("console", lambda message: console.append(message.text))
        page.set_default_timeout(timeout(10) * 1000)
        if clock:
            page.clock.install()
        page.goto(server.url + "/")
        page.fill("#name", user)
        page.click("text=Log in")
        page.wait_for_selector("#status:text('live')")
        pages.append(page)
        return page

    yield log_in
    for page in pages:
        assert page.evaluate("window.violations") == [], page.url
        page.context.close()
    assert not [text for text in console if "Content Security Policy" in text], console


def see(locator, text):
    """Wait (bounded) until `locator` has exactly `text`."""
    expect(locator).to_have_text(text, timeout=timeout(10) * 1000)


def message(page, text):
    """The open conversation's item of the message whose text has `text`."""
    return shown(page, text).last


def test_typing_shows_in_the_open_conversation_and_clears_when_the_message_comes(people):
    """bob sees "ann is typing…" only in ann's conversation; her message clears it."""
    ann, bob = people("ann_ty"), people("bob_ty")
    entry(ann, "bob_ty").wait_for()
    open_conversation(ann, "bob_ty")
    ann.type("#text", "hel")
    bob.wait_for_selector("#conversations button[data-conv='ann_ty']")
    bob.wait_for_timeout(300)
    assert bob.inner_text("#typing") == "", "not in the group, where bob is"
    open_conversation(bob, "ann_ty")
    see(bob.locator("#typing"), "ann_ty is typing…")
    ann.type("#text", "lo there")
    ann.press("#text", "Enter")
    message(bob, "hello there").wait_for()
    see(bob.locator("#typing"), "")
    assert ann.inner_text("#typing") == "", "nobody sees their own notices"


def test_a_typing_notice_fades_after_five_seconds(people):
    """Without a message, the notice is shown for 5 s after the last one, then goes."""
    cat, dan = people("cat_ty"), people("dan_ty", clock=True)
    cat.type("#text", "w")  # both are in the group view
    see(dan.locator("#typing"), "cat_ty is typing…")
    dan.clock.fast_forward(4000)
    assert dan.inner_text("#typing") == "cat_ty is typing…"
    dan.clock.fast_forward(1500)
    see(dan.locator("#typing"), "")


def test_an_edit_with_the_up_arrow_shows_edited_on_the_other_side_and_after_a_reload(people, server):
    """↑ in an empty composer edits ann's last message; bob sees the new text and "(edited)"
    with the edit's time on hover, live and from the history after a reload."""
    ann, bob = people("ann_ed"), people("bob_ed")
    say(bob, "bob was first")
    say(ann, "helo everyone")
    message(bob, "helo everyone").wait_for()
    ann.press("#text", "ArrowUp")
    assert ann.is_visible("#editing-bar")
    assert ann.input_value("#text") == "helo everyone"
    ann.fill("#text", "hello everyone")
    ann.press("#text", "Enter")
    for page in (ann, bob):
        item = message(page, "hello everyone")
        see(item.locator(".edited"), "(edited)")
        assert item.locator(".edited").get_attribute("title").startswith("Edited ")
    assert message(bob, "bob was first").locator(".edited").count() == 0
    assert not ann.is_visible("#editing-bar") and ann.input_value("#text") == ""
    bob.press("#text", "ArrowUp")  # bob's own last message, not ann's
    assert bob.input_value("#text") == "bob was first"
    bob.press("#text", "Escape")
    assert bob.input_value("#text") == "" and not bob.is_visible("#editing-bar")
    bob.reload()
    bob.wait_for_selector("#status:text('live')")
    see(message(bob, "hello everyone").locator(".edited"), "(edited)")
    assert shown(bob, "helo everyone").count() == 0


def test_a_delete_asks_first_and_shows_message_deleted_on_the_other_side(people):
    """ann's Delete button asks; refused, nothing changes; accepted, both see "message
    deleted" (also after a reload), and the unread count of the deleted message goes."""
    ann, bob = people("ann_de"), people("bob_de")
    entry(ann, "bob_de").wait_for()
    open_conversation(ann, "bob_de")
    say(ann, "a secret, oops")
    bob.wait_for_selector("#conversations button[data-conv='ann_de'] .unread:text-is('1')")
    item = message(ann, "a secret, oops")
    item.hover()
    ann.once("dialog", lambda dialog: dialog.dismiss())
    item.get_by_role("button", name="Delete message").click()
    ann.wait_for_timeout(300)
    assert ann.locator(".thread:not([hidden]) li.msg.deleted").count() == 0
    item.hover()
    ann.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="Delete message").click()
    ann.wait_for_selector(".thread:not([hidden]) li.msg.deleted .text:text-is('message deleted')")
    see(entry(bob, "ann_de").locator(".unread"), "")
    open_conversation(bob, "ann_de")
    deleted = bob.locator(".thread:not([hidden]) li.msg.deleted")
    see(deleted.locator(".text"), "message deleted")
    assert deleted.locator("button").count() == 0 and ann.locator("li.msg.deleted button").count() == 0
    bob.reload()
    bob.wait_for_selector("#status:text('live')")
    open_conversation(bob, "ann_de")
    see(bob.locator(".thread:not([hidden]) li.msg.deleted .text"), "message deleted")
    assert "a secret" not in bob.inner_text("#threads")


def test_the_edit_button_edits_and_others_cannot_edit(people):
    """The Edit button puts the text in the composer; Save changes it; only your own
    messages have the buttons."""
    ann, bob = people("ann_eb"), people("bob_eb")
    say(ann, "first try")
    message(bob, "first try").wait_for()
    assert message(bob, "first try").locator("button").count() == 0
    item = message(ann, "first try")
    item.hover()
    item.get_by_role("button", name="Edit message").click()
    assert ann.input_value("#text") == "first try" and ann.inner_text("#send") == "Save"
    ann.fill("#text", "second try")
    ann.click("#send")
    see(message(bob, "second try").locator(".text"), "second try")
    assert ann.inner_text("#send") == "Send"


def test_on_a_phone_a_tap_shows_the_buttons_of_your_message(people):
    """At phone width with touch, the buttons show once the message is tapped; Edit and
    Save (the composer's button) change it."""
    ann = people("ann_ph", viewport={"width": 390, "height": 720}, is_mobile=True, has_touch=True)
    ann.fill("#text", "typo hre")
    ann.tap("#send")
    item = message(ann, "typo hre")
    item = ann.locator(f"li.msg[data-id='{item.get_attribute('data-id')}']")  # found by id once its text changes
    edit = item.get_by_role("button", name="Edit message")
    assert edit.evaluate("(b) => getComputedStyle(b.parentElement).opacity") == "0"
    item.locator(".text").tap()
    ann.wait_for_function("(b) => getComputedStyle(b.parentElement).opacity === '1'", arg=edit.element_handle())
    edit.tap()
    assert ann.input_value("#text") == "typo hre"
    assert not ann.is_visible("#editing-bar .keys"), "no Enter to save on a touch keyboard"
    ann.fill("#text", "typo here")
    ann.tap("#send")
    see(item.locator(".edited"), "(edited)")
    assert item.locator(".text").inner_text() == "typo here"


def test_web_addresses_are_links_and_nothing_else_is(people):
    """http(s) addresses become <a rel="noopener noreferrer" target="_blank">; a javascript:
    address and markup stay text."""
    ann, bob = people("ann_ln"), people("bob_ln")
    say(ann, "see https://example.com/docs?a=1. or javascript:alert(1) or <b>bold</b>")
    item = message(bob, "see https://example.com")
    links = item.locator(".text a")
    expect(links).to_have_count(1)
    assert links.get_attribute("href") == "https://example.com/docs?a=1"
    assert links.inner_text() == "https://example.com/docs?a=1"
    assert links.get_attribute("rel") == "noopener noreferrer"
    assert links.get_attribute("target") == "_blank"
    assert item.locator(".text").inner_text() == "see https://example.com/docs?a=1. or javascript:alert(1) or <b>bold</b>"
    assert item.locator(".text b").count() == 0


def test_the_title_counts_what_is_unread(people):
    """Two direct messages to bob's other conversation: "(2) Chat"; opening it: "Chat"."""
    ann, bob = people("ann_ti"), people("bob_ti")
    assert bob.title() == "Chat"
    entry(ann, "bob_ti").wait_for()
    open_conversation(ann, "bob_ti")
    say(ann, "one")
    say(ann, "two")
    expect(bob).to_have_title("(2) Chat", timeout=timeout(10) * 1000)
    open_conversation(bob, "ann_ti")
    expect(bob).to_have_title("Chat", timeout=timeout(10) * 1000)


def test_find_people_starts_a_direct_conversation_with_someone_offline(people, server):
    """The sidebar's search finds a known person who is offline by a prefix of their name;
    choosing them opens the conversation with them, and a message reaches them."""
    server.token("Zora_fp")  # known, never online in a browser here
    ann = people("ann_fp")
    assert entry(ann, "zora_fp").count() == 0
    ann.fill("#find", "ZOR")
    found = ann.locator("#found button[data-user='zora_fp']")
    found.wait_for()
    assert "online" not in found.get_attribute("class")
    ann.fill("#find", "zzz_nobody")
    ann.wait_for_selector("#find-empty:visible")
    ann.fill("#find", "zora")
    ann.press("#find", "Enter")
    ann.wait_for_selector("#title:text-is('Zora_fp')")
    assert ann.input_value("#find") == ""
    say(ann, "hello from the search")
    message(ann, "hello from the search").wait_for()
    status, answer, _ = server.get("/api/messages?with=ann_fp", {"Authorization": f"Bearer {server.token('Zora_fp')}"})
    assert [m["msg"] for m in answer["messages"]] == ["hello from the search"]


def test_edits_and_deletes_made_while_away_come_with_since(people, server):
    """bob's socket is cut and held off; meanwhile ann edits one message and deletes another;
    bob's page comes back with `since` and shows both changes from its backlog."""
    sockets, hold = [], []

    def route(ws):
        sockets.append(ws)
        if not hold:
            ws.connect_to_server()  # held: the page's socket stays open and silent

    ann = server.connect("ann_aw")
    ann.sync()
    bob = people("bob_aw", sockets=route)
    for cid, text in (("a1", "to be edited"), ("a2", "to be deleted")):
        ann.send(msg=text, cid=cid)
    kept = ann.recv_until(lambda f: f.get("cid") == "a1")
    gone = ann.recv_until(lambda f: f.get("cid") == "a2")
    message(bob, "to be deleted").wait_for()
    hold.append(True)
    sockets[-1].close()
    bob.wait_for_function("() => document.querySelector('#status').dataset.state !== 'live'")
    for _ in range(int(timeout(10) / 0.05)):  # Playwright calls `route` while the test waits
        if len(sockets) == 2:
            break
        bob.wait_for_timeout(50)
    assert len(sockets) == 2, "the page tried again, and is held off"
    ann.send(type="edit", id=kept["id"], msg="edited while away", cid="a3")
    ann.send(type="delete", id=gone["id"], cid="a4")
    ann.recv_until(lambda f: f.get("cid") == "a4")
    hold.clear()
    sockets[-1].close()
    bob.wait_for_selector("#status:text('live')")
    assert f"since={gone['id']}" in sockets[-1].url
    see(message(bob, "edited while away").locator(".edited"), "(edited)")
    see(bob.locator(f".thread:not([hidden]) li.msg[data-id='{gone['id']}'] .text"), "message deleted")
    ann.close()


def test_read_markers_follow_bob_to_his_other_device_and_show_seen_to_ann(people, server):
    """bob has 2 unread from ann; a second page of bob's (another device: a fresh page, so
    the counts come from the server) shows them too; opening the conversation there drops
    the first page's count to 0 (a read frame), and ann sees "Seen" under her last message,
    live and after a reload."""
    ann, bob = people("ann_rm"), people("bob_rm")
    entry(ann, "bob_rm").wait_for()
    open_conversation(ann, "bob_rm")
    say(ann, "one")
    say(ann, "two")
    count = lambda page: entry(page, "ann_rm").locator(".unread")  # noqa: E731
    see(count(bob), "2")
    expect(bob).to_have_title("(2) Chat", timeout=timeout(10) * 1000)
    assert message(ann, "two").locator(".seen").count() == 0, "bob has not opened it"

    console = []
    other = bob.context.new_page()  # the context's init script watches CSP violations here too
    other.on("console", lambda line: console.append(line.text))
    other.set_default_timeout(timeout(10) * 1000)
    other.goto(server.url + "/")
    other.wait_for_selector("#status:text('live')")
    see(count(other), "2")
    expect(other).to_have_title("(2) Chat", timeout=timeout(10) * 1000)

    open_conversation(other, "ann_rm")
    see(count(other), "")
    see(count(bob), "")
    expect(bob).to_have_title("Chat", timeout=timeout(10) * 1000)
    see(message(ann, "two").locator(".seen"), "Seen")
    assert message(ann, "one").locator(".seen").count() == 0, "only under the last one read"

    ann.reload()
    ann.wait_for_selector("#status:text('live')")
    open_conversation(ann, "bob_rm")
    see(message(ann, "two").locator(".seen"), "Seen")
    bob.reload()
    bob.wait_for_selector("#status:text('live')")
    entry(bob, "ann_rm").wait_for()
    bob.wait_for_timeout(300)
    assert count(bob).inner_text() == "", "the marker is the server's"
    assert other.evaluate("window.violations") == []
    assert not [text for text in console if "Content Security Policy" in text], console
    other.close()
