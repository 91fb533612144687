// What the page knows of read markers: each conversation's unread count (the server's, from
// GET /api/conversations at start and after each reconnect, then kept live by arriving
// messages, deletes and the read frames of one's other devices), moving one's marker when
// a conversation is open in a visible tab, and "Seen" under the last of one's direct
// messages that the peer has read. The conversations themselves are page.js's: each one's
// state here lives in its `read` field.
import {conversationOf} from "./chat-client.js";
import {el} from "./message-view.js";

const READ_INTERVAL_MS = 1000;  // at most one read frame per conversation per second
const REFETCH_DEBOUNCE_MS = 300; // a burst of read frames is one GET /api/conversations

/**
 * Start keeping the read state. `hooks`: conversationFor(address) (the page's conversation
 * of a {with}/{room} address, made when new), refresh(conv) (redraw its sidebar entry and
 * the totals), active() (the open conversation), addressOf(conv) ({with} or {room}), isDirect(conv).
 */
export function startReadState(client, me, hooks) {
  const meKey = me.toLowerCase();
  let refetchTimer = null;

  function stateOf(conv) {
    // base: the server's count when last asked, of the ids up to `counted`; live: ids of
    // others' messages that came after `counted` and are above the marker.
    conv.read ??= {base: 0, counted: 0, upTo: 0, live: new Set(), peerUpTo: 0, sentAt: -Infinity, timer: null};
    return conv.read;
  }

  /** The number of unread messages of a conversation. */
  function unreadOf(conv) {
    const state = stateOf(conv);
    return state.base + state.live.size;
  }

  function visible() {
    return document.visibilityState === "visible";
  }

  function beingRead(conv) {
    return conv === hooks.active() && visible();
  }

  /** Ask the server for every conversation's counts and markers (start, each reconnect). */
  async function load() {
    let items;
    try {
      items = await client.fetchConversations();
    } catch (err) {
      return;  // asked again at the next synced or read frame
    }
    for (const item of items) {
      const conv = hooks.conversationFor(item.room != null ? {room: item.room} : {with: item.with});
      const state = stateOf(conv);
      state.base = item.unread;
      state.counted = item.last_id;
      state.upTo = Math.max(state.upTo, item.read_up_to);
      for (const id of [...state.live]) if (id <= item.last_id || id <= state.upTo) state.live.delete(id);
      if (item.peer_read_up_to !== undefined) state.peerUpTo = Math.max(state.peerUpTo, item.peer_read_up_to);
      hooks.refresh(conv);
      if (hooks.isDirect(conv)) showSeen(conv);
    }
    const open = hooks.active();
    if (open) seeing(open);
  }

  function refetchSoon() {
    clearTimeout(refetchTimer);
    refetchTimer = setTimeout(load, REFETCH_DEBOUNCE_MS);
  }

  /** A message shown in `conv`; `live`: it just came, and counts unless read or one's own. */
  function heardMessage(conv, m, mine, live) {
    const state = stateOf(conv);
    if (live && !mine && m.id > state.upTo && m.id > state.counted && !beingRead(conv)) {
      state.live.add(m.id);
      hooks.refresh(conv);
    }
    if (mine && hooks.isDirect(conv)) showSeen(conv);
    if (live) seeing(conv);  // a page of history or a backlog is seen once it is all in
  }

  /** A message deleted: it is no longer unread. */
  function heardDelete(conv, change) {
    const state = stateOf(conv);
    if (state.live.delete(change.of)) { hooks.refresh(conv); return; }
    const counted = change.of > state.upTo && change.of <= state.counted;
    if (counted && change.from_user.toLowerCase() !== meKey && state.base > 0) {
      state.base -= 1;
      hooks.refresh(conv);
    }
  }

  /** Our marker moved to `upTo` (here or on another device): what is below it is read. */
  function markerMoved(conv, upTo) {
    const state = stateOf(conv);
    if (upTo <= state.upTo) return;
    state.upTo = upTo;
    for (const id of [...state.live]) if (id <= upTo) state.live.delete(id);
    if (upTo >= state.counted) state.base = 0;
    hooks.refresh(conv);
    return state;
  }

  /** A read frame: one's own marker (any device), or the peer's of a direct conversation. */
  function heardRead(frame) {
    const conv = hooks.conversationFor(conversationOf(frame, me));
    if (frame.user.toLowerCase() === meKey) {
      const state = markerMoved(conv, frame.up_to);
      if (state && frame.up_to < state.counted) refetchSoon();  // only the server knows what is left
      return;
    }
    const state = stateOf(conv);
    if (frame.up_to <= state.peerUpTo) return;
    state.peerUpTo = frame.up_to;
    showSeen(conv);
  }

  /**
   * The open conversation in a visible tab: move the marker to its newest message shown,
   * when someone else's message there is above it (one's own are read by sending them).
   */
  function seeing(conv) {
    if (!beingRead(conv)) return;
    const state = stateOf(conv);
    const newest = lastItem(conv.list, "li.msg[data-id]");
    const theirs = lastItem(conv.list, "li.msg[data-id]:not(.mine)");
    if (!newest || !theirs || Number(theirs.dataset.id) <= state.upTo) {
      if (unreadOf(conv) && state.upTo >= state.counted) { state.base = 0; hooks.refresh(conv); }
      return;
    }
    const wait = state.sentAt + READ_INTERVAL_MS - Date.now();
    if (wait > 0) {
      // The frame waits for the interval, but what is on screen is read now: no count
      // beside a conversation one is looking at.
      if (unreadOf(conv)) { state.base = 0; state.live.clear(); hooks.refresh(conv); }
      state.timer ??= setTimeout(() => { state.timer = null; seeing(conv); }, wait);
      return;
    }
    const upTo = Number(newest.dataset.id);
    state.sentAt = Date.now();
    client.markRead({...hooks.addressOf(conv), up_to: upTo}).then(
      () => {}, () => { state.sentAt = -Infinity; });
    if (client.state === "live") markerMoved(conv, upTo);
  }

  /** "Seen" under the last of one's own messages of a direct conversation that the peer has read. */
  function showSeen(conv) {
    conv.list.querySelectorAll(".seen").forEach((node) => node.remove());
    if (conv.key === meKey) return;  // notes to oneself: one's own marker, not a peer's
    const upTo = stateOf(conv).peerUpTo;
    const mine = [...conv.list.querySelectorAll("li.msg.mine[data-id]")].filter((li) => Number(li.dataset.id) <= upTo);
    if (!mine.length) return;
    mine[mine.length - 1].append(el("div", "Seen", "seen"));
  }

  document.addEventListener("visibilitychange", () => {
    const open = hooks.active();
    if (open && visible()) seeing(open);
  });

  return {unreadOf, load, heardMessage, heardDelete, heardRead, seeing, showSeen};
}

function lastItem(list, selector) {
  const items = list.querySelectorAll(selector);
  return items.length ? items[items.length - 1] : null;
}
