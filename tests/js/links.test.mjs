// chat/static/links.js: which parts of a message's text become links.
import assert from "node:assert/strict";
import {test} from "node:test";

import {linkParts, safeHref} from "../../chat/static/links.js";

const links = (text) => linkParts(text).filter((part) => part.href).map((part) => part.text);

test("http and https addresses are links; the parts join back into the text", () => {
  const text = "see https://example.com/a?b=1#c and http://x.test/ too";
  const parts = linkParts(text);
  assert.deepEqual(parts, [
    {text: "see "}, {text: "https://example.com/a?b=1#c", href: "https://example.com/a?b=1#c"},
    {text: " and "}, {text: "http://x.test/", href: "http://x.test/"}, {text: " too"}]);
  assert.equal(parts.map((part) => part.text).join(""), text);
  assert.deepEqual(linkParts("no address here"), [{text: "no address here"}]);
  assert.deepEqual(linkParts(""), []);
});

test("other schemes are never links", () => {
  for (const text of ["javascript:alert(1)", "javascript://example.com/%0Aalert(1)", "data:text/html,<b>x</b>",
                      "ftp://example.com/file", "file:///etc/passwd", "vbscript:msgbox", "http://", "https:// spaced"]) {
    assert.deepEqual(links(text), [], text);
  }
  assert.equal(safeHref("javascript:alert(1)"), null);
  assert.equal(safeHref("HTTPS://Example.COM"), "https://example.com/");
});

test("punctuation that ends a sentence stays out of the address; brackets it opened stay in", () => {
  assert.deepEqual(links("read https://example.com/page."), ["https://example.com/page"]);
  assert.deepEqual(links("(https://example.com/x)"), ["https://example.com/x"]);
  assert.deepEqual(links("https://en.wikipedia.org/wiki/Foo_(bar), ok?"), ["https://en.wikipedia.org/wiki/Foo_(bar)"]);
  assert.deepEqual(links('"https://example.com/q"!'), ["https://example.com/q"]);
  assert.deepEqual(links("<https://example.com/angle>"), ["https://example.com/angle"]);
  assert.deepEqual(links("xhttps://example.com"), [], "only at a word's start");
});

test("markup in a message stays text around the link", () => {
  const parts = linkParts('<img src=x onerror=alert(1)> https://example.com/"><script>');
  assert.deepEqual(parts.filter((part) => part.href), [{text: "https://example.com/", href: "https://example.com/"}]);
  assert.equal(parts[0].text, "<img src=x onerror=alert(1)> ");
});
