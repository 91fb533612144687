"""`make screenshots`: the README's pictures of the page, taken from a live server.

Three people talk in the group and two of them directly; shots at desktop and phone width.
"""

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# pylint: disable=wrong-import-position
from liveserver import Server  # noqa: E402
from test_browser import CHROMIUM, FLAGS, log_in, open_conversation, say  # noqa: E402


def main():
    """Start a server, hold a short conversation, save docs/page-desktop.png and docs/page-phone.png."""
    server = Server(tempfile.mkdtemp(prefix="chat-shots-")).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            desktop = {"viewport": {"width": 1100, "height": 620}}
            phone = {"viewport": {"width": 390, "height": 720}, "is_mobile": True, "has_touch": True}
            ana = log_in(browser, server, "ana", **desktop)
            li = log_in(browser, server, "李雷", **phone)
            bo = log_in(browser, server, "bo", **desktop)
            say(bo, "Morning all! The release is out 🎉")
            say(bo, "Notes are in the wiki.")
            say(li, "太好了！谢谢 👍")
            open_conversation(bo, "ana")
            say(bo, "Lunch at 12:30?\nThe usual place.")
            open_conversation(li, "ana")
            say(li, "ana, can you review my change today?")
            ana.wait_for_selector("#conversations button[data-conv='李雷'] .unread:text-is('1')")
            open_conversation(ana, "bo")
            say(ana, "Yes, see you there.")
            ana.wait_for_timeout(300)
            ana.screenshot(path=str(ROOT / "docs" / "page-desktop.png"))
            open_conversation(li, "*")
            li.wait_for_timeout(300)
            li.screenshot(path=str(ROOT / "docs" / "page-phone.png"))
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
