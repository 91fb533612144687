// The web addresses in a message's text, found without any HTML: the page turns the parts
// into text nodes and <a> elements, so user text is never parsed as markup. Only http and
// https addresses become links (never javascript:, data:, …).

const ADDRESS = /\bhttps?:\/\/[^\s<>"]+/giu;
const TRAILING = /[.,;:!?'"*_~]$/u;           // sentence punctuation after an address is not part of it
const PAIRS = {")": "(", "]": "[", "}": "{"};

/** `address` without what ends the sentence around it: final punctuation, an unopened bracket. */
function trimEnd(address) {
  let end = address;
  for (;;) {
    const last = end.at(-1);
    if (TRAILING.test(last)) { end = end.slice(0, -1); continue; }
    const open = PAIRS[last];
    if (open && count(end, last) > count(end, open)) { end = end.slice(0, -1); continue; }
    return end;
  }
}

function count(text, char) {
  return text.split(char).length - 1;
}

/** The link target of `address` when it is an http(s) URL, else null. */
export function safeHref(address) {
  let url;
  try {
    url = new URL(address);
  } catch (err) {
    return null;
  }
  return (url.protocol === "http:" || url.protocol === "https:") && url.hostname ? url.href : null;
}

/**
 * `text` cut into parts, in order: `{text}` for plain text and `{text, href}` for a web
 * address (`text` as written, `href` the URL to open). Joined, the parts' texts are `text`.
 */
export function linkParts(text) {
  const parts = [];
  let done = 0;
  for (const match of text.matchAll(ADDRESS)) {
    const address = trimEnd(match[0]);
    const href = safeHref(address);
    if (!href) continue;
    if (match.index > done) parts.push({text: text.slice(done, match.index)});
    parts.push({text: address, href});
    done = match.index + address.length;
  }
  if (done < text.length) parts.push({text: text.slice(done)});
  return parts;
}
