// One message of a timeline: its header, its text (web addresses as safe links, the rest as
// text), "(edited)" with the time of the last edit, "message deleted", and the Edit and
// Delete buttons of your own. Edits and deletes are applied here, whatever order they come in.
import {linkParts} from "./links.js";

/** A new element, with `text` as its text (user text is always text, never HTML). */
export function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

/** `msg` as nodes: text, and an <a> for each http(s) address, opening in a new tab. */
function textNodes(msg) {
  return linkParts(msg).map((part) => {
    if (!part.href) return document.createTextNode(part.text);
    const link = el("a", part.text);
    link.href = part.href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";  // the opened page gets neither this window nor its address
    return link;
  });
}

function button(text, action, label) {
  const node = el("button", text);
  node.type = "button";
  node.dataset.action = action;
  node.setAttribute("aria-label", label);
  return node;
}

/**
 * The list item of stored message `m` (as served now: `edited`, `deleted`); `mine` (the
 * viewer sent it) adds the Edit and Delete buttons.
 */
export function messageItem(m, mine) {
  const li = el("li", undefined, mine ? "msg mine" : "msg");
  li.dataset.id = m.id;
  li.dataset.from = m.from_user.toLowerCase();
  li.dataset.ts = Date.parse(m.ts);
  const when = new Date(m.ts);
  const time = el("time", when.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}));
  time.dateTime = m.ts;
  time.title = when.toLocaleString();
  const meta = el("div", undefined, "meta");
  meta.append(el("span", mine ? "You" : m.from_user, "from"), " ", time);
  const text = el("div", undefined, "text");
  text.append(...textNodes(m.msg));
  li.append(meta, text);
  if (mine) {
    // Your messages are aligned right: the buttons go before the text, where there is room.
    const actions = el("span", undefined, "actions");
    actions.append(button("Edit", "edit", "Edit message"), button("Delete", "delete", "Delete message"));
    text.before(actions);
    li.tabIndex = -1;  // a tap focuses it, which shows the buttons on a touch screen
  }
  if (m.deleted) markDeleted(li);
  else if (m.edited) markEdited(li, m.edited);
  return li;
}

/** The text of a message item as it was written (links included). */
export function messageText(li) {
  return li.querySelector(".text").textContent;
}

export function isDeleted(li) {
  return li.classList.contains("deleted");
}

function markEdited(li, ts) {
  li.dataset.edited = Date.parse(ts);
  let marker = li.querySelector(".edited");
  if (!marker) {
    marker = el("span", "(edited)", "edited");
    const text = li.querySelector(".text");
    if (li.classList.contains("mine")) text.before(marker, " ");  // on the side of the text away from the edge
    else text.after(" ", marker);
  }
  marker.title = `Edited ${new Date(ts).toLocaleString()}`;
}

function markDeleted(li) {
  li.classList.add("deleted");
  li.classList.remove("editing");
  li.querySelector(".text").replaceChildren("message deleted");
  li.querySelector(".edited")?.remove();
  li.querySelector(".actions")?.remove();
}

/**
 * Apply an `edit` or `delete` event to the item of the message it changes. Returns false
 * when it changes nothing: the message is deleted already, or the item shows a later edit
 * (history serves a message as it is now, and older edit events can come after it).
 */
export function applyChange(li, change) {
  if (isDeleted(li)) return false;
  if (change.type === "delete") { markDeleted(li); return true; }
  // An edit of a message deleted since carries no text; its delete event follows.
  if (change.msg === "" || change.id <= Number(li.dataset.change || 0)) return false;
  if (Date.parse(change.ts) < Number(li.dataset.edited || 0)) return false;
  li.dataset.change = change.id;
  li.querySelector(".text").replaceChildren(...textNodes(change.msg));
  markEdited(li, change.ts);
  return true;
}
