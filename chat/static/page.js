// The chat page: conversations (the group, people, rooms) in a sidebar, the composer,
// history and presence. The protocol (connection, resume, acknowledgements, resend,
// backoff, the events fallback) is chat-client.js's; the rooms' own controls are
// rooms.js's; a message's item is message-view.js's, editing your own editing.js's, who
// is typing typing.js's, unread counts, read markers and "Seen" read-state.js's; this file turns the client's events into the page and back.
import {ChatClient, State, conversationOf as addressOf, newCid} from "./chat-client.js";
import {startEditing} from "./editing.js";
import {applyChange, el, isDeleted, messageItem} from "./message-view.js";
import {startPeopleSearch} from "./people-search.js";
import {startReadState} from "./read-state.js";
import {startRooms} from "./rooms.js";
import {startTyping} from "./typing.js";

const root = document.getElementById("chat");
if (root) startPage(root);

function startPage(root) {
  const me = root.dataset.user;
  const presenceLimit = Number(root.dataset.presenceLimit);
  const $ = (id) => document.getElementById(id);
  const keyOf = (name) => name.toLowerCase();
  const GROUP = "*";
  const roomKey = (name) => `#${keyOf(name)}`;  // "#" cannot start a username: no clash with people
  const ROOM_HASH = "#room/";
  const PAGE = 50;
  const GROUPING_MS = 5 * 60 * 1000;  // a sender's messages this close together share one header
  const PRESENCE_POLL_MS = 30000;
  const MAX_EARLY_CHANGES = 1000;     // edits and deletes kept for messages not shown yet
  const TITLE = document.title;

  const client = new ChatClient({user: me});
  const seen = new Set();        // ids of the messages shown
  const conversations = new Map(); // "*", a person's key or a room's -> conversation
  const online = new Set();      // keys of the people online
  let active = GROUP;
  const earlyChanges = new Map(); // message id -> the newest edit or delete of a message not shown yet
  let firstSync = true;          // the first backlog is history, not news

  $("me").textContent = me;

  function setStatus(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  // -- conversations and the sidebar ---------------------------------------------

  function conversation(key, name) {
    let conv = conversations.get(key);
    if (conv) return conv;
    const room = key.startsWith("#") ? name : null;
    const label = key === GROUP ? "Everyone" : name;
    const list = el("ol", undefined, "thread");
    list.setAttribute("aria-label", room ? `Messages in ${label}` : `Messages with ${label}`);
    list.hidden = key !== active;
    $("threads").append(list);
    const button = el("button", undefined, room ? "conv room" : "conv");
    button.type = "button";
    button.dataset.conv = key;
    if (room) button.dataset.room = keyOf(room);
    button.append(room ? el("span", "#", "hash") : el("span", undefined, "dot"), el("span", label, "name"),
      el("span", "", "unread"));
    button.addEventListener("click", () => { open(key); $("text").focus(); });
    conv = {key, name: label, room, list, button, oldest: Infinity, fetched: false, complete: false};
    conversations.set(key, conv);
    placeInSidebar(conv);
    refreshEntry(conv);
    return conv;
  }

  function roomConversation(name) {
    return conversation(roomKey(name), name);
  }

  function placeInSidebar(conv) {
    // Everyone first, then people by name; rooms by name in a list of their own.
    const item = el("li");
    item.append(conv.button);
    const list = $(conv.room ? "rooms" : "conversations");
    const items = [...list.children];
    const after = conv.key === GROUP ? items[0]
      : items.find((li) => li.firstChild.dataset.conv !== GROUP
          && conversations.get(li.firstChild.dataset.conv).name.localeCompare(conv.name) > 0);
    list.insertBefore(item, after || null);
  }

  function refreshEntry(conv) {
    const isOnline = conv.key === GROUP || online.has(conv.key);
    conv.button.classList.toggle("online", isOnline);
    const unread = reads.unreadOf(conv);
    conv.button.querySelector(".unread").textContent = unread ? String(unread) : "";
    if (conv.key === active) conv.button.setAttribute("aria-current", "true");
    else conv.button.removeAttribute("aria-current");
    const parts = [conv.room ? `room ${conv.name}` : conv.name];
    if (conv.key !== GROUP && !conv.room) parts.push(isOnline ? "online" : "offline");
    if (unread) parts.push(`${unread} unread`);
    conv.button.setAttribute("aria-label", parts.join(", "));
    const total = [...conversations.values()].reduce((sum, c) => sum + reads.unreadOf(c), 0);
    $("menu-unread").textContent = total ? `(${total} unread)` : "";
    document.title = total ? `(${total}) ${TITLE}` : TITLE;  // seen from another tab
  }

  /** The conversation's address in the protocol: {room} or {with} ("*" for the group). */
  function addressOfConv(conv) {
    return conv.room ? {room: conv.room} : {with: conv.key === GROUP ? GROUP : conv.name};
  }

  /** The page's key of a conversation's address. */
  function keyOfAddress(address) {
    return address.room ? roomKey(address.room) : address.with === GROUP ? GROUP : keyOf(address.with);
  }

  function open(key) {
    const previous = conversations.get(active);
    active = key;
    const conv = conversation(key);
    if (previous) { previous.list.hidden = true; refreshEntry(previous); }
    conv.list.hidden = false;
    refreshEntry(conv);
    editing.cancel();
    typing.show(key);
    $("title").textContent = conv.name;
    $("text-label").textContent = conv.room ? `Message to room ${conv.name}` : `Message to ${conv.name}`;
    rooms.show(conv.room);
    // The address names the open room, so that it can be shared or reloaded.
    const address = conv.room ? `${ROOM_HASH}${encodeURIComponent(conv.room)}` : `${location.pathname}${location.search}`;
    history.replaceState(null, "", address);
    root.classList.remove("show-sidebar");
    $("menu").setAttribute("aria-expanded", "false");
    updateOlderButton(conv);
    scrollToEnd();
    reads.seeing(conv);
    if (!conv.fetched) loadOlder();
  }

  // -- messages -------------------------------------------------------------------

  /** The conversation of a message, edit or delete. */
  function conversationOf(m) {
    const address = addressOf(m, me);
    if (address.room) return roomConversation(address.room);
    if (address.with === GROUP) return conversation(GROUP);
    return conversation(keyOf(address.with), address.with);
  }

  function itemOf(id) {
    return document.querySelector(`#threads li.msg[data-id="${Number(id)}"]`);
  }

  function regroup(li) {
    // A message continues its sender's group when the one before it is theirs and recent.
    if (!li || !li.classList.contains("msg")) return;
    const prev = li.previousElementSibling;
    const continues = prev && prev.classList.contains("msg") && prev.dataset.from === li.dataset.from
      && Number(li.dataset.ts) - Number(prev.dataset.ts) < GROUPING_MS;
    li.classList.toggle("cont", Boolean(continues));
  }

  /** Put `li` (the stored event `id`) in `conv`'s timeline, in id order, before what is pending. */
  function place(conv, li, id) {
    const list = conv.list;
    const after = [...list.children].find((node) => node.classList.contains("pending") || Number(node.dataset.id) > id);
    list.insertBefore(li, after || null);
    regroup(li);
    regroup(li.nextElementSibling);
  }

  // how: "backlog" (history on first load), "history" (scrolled back) or "live".
  function showMessage(m, how) {
    if (m.cid) removePending(m.cid);
    if (seen.has(m.id)) return;
    seen.add(m.id);
    const conv = conversationOf(m);
    conv.oldest = Math.min(conv.oldest, m.id);
    const mine = keyOf(m.from_user) === keyOf(me);
    const li = messageItem(m, mine);
    if (earlyChanges.has(m.id)) { applyChange(li, earlyChanges.get(m.id)); earlyChanges.delete(m.id); }
    const wasAtEnd = nearEnd();
    place(conv, li, m.id);
    if (how !== "history") typing.stopped(conv.key, m.from_user);
    reads.heardMessage(conv, m, mine, how === "live" && !isDeleted(li));
    if (how === "live" && !mine && !isDeleted(li)) {
      const where = m.room ? ` in ${m.room}` : m.to_user ? " to you" : "";
      $("announce").textContent = `${m.from_user}${where}: ${m.msg}`;
    }
    if (conv.key === active && how !== "history" && (mine || wasAtEnd)) scrollToEnd();
  }

  /** An edit or a delete: its message's item changes (or will, once it is shown). */
  function showChange(change) {
    const li = itemOf(change.of);
    if (!li) {
      const known = earlyChanges.get(change.of);
      if (!known || (known.type !== "delete" && change.id > known.id)) earlyChanges.set(change.of, change);
      if (earlyChanges.size > MAX_EARLY_CHANGES) earlyChanges.delete(earlyChanges.keys().next().value);
      return;
    }
    applyChange(li, change);
    editing.dropped(li);
    if (change.type !== "delete") return;
    reads.heardDelete(conversationOf(change), change);  // a message deleted before it was read is not unread
  }

  /** "bob joined", "bob left", "alice added bob": a member event in its room's timeline. */
  function memberText(frame) {
    const by = frame.by && keyOf(frame.by) !== keyOf(frame.user) ? frame.by : null;
    if (frame.joined) return by ? `${by} added ${frame.user}` : `${frame.user} joined`;
    return by ? `${by} removed ${frame.user}` : `${frame.user} left`;
  }

  function showMember(frame, how) {
    if (seen.has(frame.id)) return;
    seen.add(frame.id);
    const aboutMe = keyOf(frame.user) === keyOf(me);
    const key = roomKey(frame.room);
    // Only members hear of others' comings and goings, and someone added to a room (or
    // joining it elsewhere) finds it in the sidebar; leaving takes it out. The server's
    // list settles it at every synced (a backlog has our own leaves of rooms long gone).
    if (aboutMe && !frame.joined) {
      if (how === "live" && conversations.has(key)) dropConversation(conversations.get(key));
      return;
    }
    const conv = roomConversation(frame.room);
    const li = el("li", memberText(frame), "event");
    li.dataset.id = frame.id;
    const wasAtEnd = nearEnd();
    place(conv, li, frame.id);
    rooms.memberChanged(frame);
    if (how === "live" && aboutMe && frame.by && keyOf(frame.by) !== keyOf(me)) {
      $("announce").textContent = `${frame.by} added you to ${frame.room}`;
    }
    if (conv.key === active && wasAtEnd) scrollToEnd();
  }

  function showPending(cid, frame, conv) {
    const li = el("li", undefined, "msg mine pending");
    li.dataset.cid = cid;
    const meta = el("div", undefined, "meta");
    meta.append(el("span", "You", "from"), " ", el("span", "sending…", "sending"));
    li.append(meta, el("div", frame.msg, "text"));
    conv.list.append(li);
    scrollToEnd();
  }

  function removePending(cid) {
    document.querySelectorAll("li.pending").forEach((li) => { if (li.dataset.cid === cid) li.remove(); });
  }

  function nearEnd() {
    const box = $("threads");
    return box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  }

  function scrollToEnd() {
    const box = $("threads");
    box.scrollTop = box.scrollHeight;
  }

  // -- history --------------------------------------------------------------------

  let loading = false;
  async function loadOlder() {
    const conv = conversations.get(active);
    if (loading || conv.complete) return;
    loading = true;
    try {
      let messages;
      try {
        messages = await client.history({...addressOfConv(conv), before: conv.oldest, limit: PAGE});
      } catch (err) {
        return;  // tried again at the next scroll or press
      }
      const box = $("threads");
      const fromEnd = box.scrollHeight - box.scrollTop;
      messages.forEach((m) => showMessage(m, "history"));
      box.scrollTop = box.scrollHeight - fromEnd;  // keep what the reader was looking at in place
      conv.fetched = true;
      conv.complete = messages.length < PAGE;
      updateOlderButton(conv);
      reads.seeing(conv);
    } finally {
      loading = false;
    }
  }

  function updateOlderButton(conv) {
    const button = $("older");
    button.disabled = conv.complete;
    button.textContent = conv.complete ? "Start of the conversation" : "Load older messages";
  }

  $("older").addEventListener("click", loadOlder);
  $("threads").addEventListener("scroll", () => { if ($("threads").scrollTop < 40) loadOlder(); });

  // -- presence -------------------------------------------------------------------

  function setOnline(name, isOnline) {
    const key = keyOf(name);
    if (isOnline) online.add(key); else online.delete(key);
    rooms.presence(name, isOnline);
    if (key === keyOf(me)) return;
    const conv = conversation(key, name);
    // Someone never talked with leaves the sidebar when they go offline: a crowd of
    // passers-by (or of names made to fill it) does not stay in it.
    if (!isOnline && key !== active && !conv.list.querySelector(".msg") && !conv.read?.counted) dropConversation(conv);
    else refreshEntry(conv);
  }

  function dropConversation(conv) {
    if (conv.key === active) open(GROUP);
    conversations.delete(conv.key);
    conv.button.parentElement.remove();
    conv.list.remove();
    refreshEntry(conversations.get(GROUP));  // the menu's total
  }

  function replaceOnline(names) {
    const now = new Set(names.map(keyOf));
    for (const key of [...online]) if (!now.has(key)) setOnline(key, false);
    names.forEach((name) => setOnline(name, true));
  }

  // Past the server's presence limit, comings and goings are not pushed: ask now and then.
  setInterval(async () => {
    if (online.size < presenceLimit) return;  // the pushes stop once the count passes the limit
    try {
      replaceOnline(await client.fetchOnline());
    } catch (err) {
      // asked again at the next turn
    }
  }, PRESENCE_POLL_MS);

  // -- the connection -------------------------------------------------------------

  // The status line: the client's state in words.
  client.on("status", ({state, transport, delay, code}) => {
    if (state === State.RECONNECTING && code === 1008) checkSession();
    const how = transport === "sse" ? " (events)" : "";
    if (state === State.LIVE) setStatus("live", `live${how}`);
    else if (state === State.RECONNECTING) {
      setStatus("reconnecting", how ? `reconnecting${how}…` : `reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`);
    } else if (state !== State.CLOSED) setStatus("connecting", `connecting${how}…`);
  });
  client.on("reset", () => seen.clear());  // the server's history is not what we saw
  client.on("hello", (hello) => replaceOnline(hello.online));
  client.on("message", (m) => showMessage(m, firstSync ? "backlog" : "live"));
  client.on("member", (frame) => showMember(frame, firstSync ? "backlog" : "live"));
  client.on("edit", showChange);
  client.on("delete", showChange);
  client.on("typing", (frame) => typing.heard(frame));
  // The markers are not in the backlog: the counts are asked for after every (re)connect.
  client.on("synced", () => { firstSync = false; rooms.reconcile(); reads.load(); });
  client.on("read", (frame) => reads.heardRead(frame));
  client.on("presence", (frame) => setOnline(frame.user, frame.online));
  client.on("error", (frame) => setStatus($("status").dataset.state, `error: ${frame.detail}`));

  // A socket closed for policy may mean the session ended elsewhere (logged out, the
  // password changed, the account deleted): then show the login form, saying so, and
  // keep the draft for after the next log-in.
  async function checkSession() {
    try {
      const response = await fetch("/api/users", {cache: "no-store"});
      if (response.status !== 401) return;
    } catch (err) {
      return;
    }
    client.close();
    sessionStorage.setItem(DRAFT, $("text").value);
    location.assign("/?notice=session_ended");  // the page shows only its own words
  }

  const DRAFT = "chat-draft";
  if (sessionStorage.getItem(DRAFT)) {
    $("text").value = sessionStorage.getItem(DRAFT);
    sessionStorage.removeItem(DRAFT);
  }

  // A guest's name is free for anyone once it logs out: say so first.
  const logout = $("logout");
  if (logout && logout.dataset.guest === "1") {
    logout.addEventListener("submit", (event) => {
      if (!confirm(`Once you log out, the name ${me} is free for anyone. Set a password first (under "Password") to keep it. Log out anyway?`)) {
        event.preventDefault();
      }
    });
  }
  $("delete-account")?.addEventListener("submit", (event) => {
    if (!confirm(`Delete the account ${me}? Your direct messages are removed for both sides and your other messages are blanked. This cannot be undone.`)) {
      event.preventDefault();
    }
  });

  // -- the composer ---------------------------------------------------------------

  function submit() {
    if (editing.active()) { editing.save(); return; }
    const text = $("text");
    if (!text.value.trim()) return;
    const cid = newCid();
    const frame = {msg: text.value, cid};
    const conv = conversations.get(active);
    if (conv.room) frame.room = conv.room;
    else if (active !== GROUP) frame.to_user = conv.name;
    showPending(cid, frame, conv);
    // If the connection is down, it goes when it is back. The acknowledgement also comes
    // as a "message" event, unless that message was shown already (from a backlog).
    client.send(frame).then(() => removePending(cid), () => removePending(cid));
    text.value = "";
    fitText();
  }

  function fitText() {
    const text = $("text");
    text.style.height = "auto";
    text.style.height = `${text.scrollHeight}px`;
  }

  // On a touch keyboard Enter is the only way to a new line, and the Send button is at
  // hand: there Enter adds a line. The long placeholder (which says what Enter does) fits
  // neither a phone's width nor a touch keyboard's behaviour.
  const touch = matchMedia("(pointer: coarse)");
  const narrow = matchMedia("(max-width: 640px)");
  function fitPlaceholder() {
    const text = $("text");
    text.dataset.longPlaceholder ??= text.placeholder;
    text.placeholder = touch.matches || narrow.matches ? text.dataset.shortPlaceholder : text.dataset.longPlaceholder;
  }
  fitPlaceholder();
  touch.addEventListener("change", fitPlaceholder);
  narrow.addEventListener("change", fitPlaceholder);

  $("composer").addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  $("text").addEventListener("keydown", (event) => {
    if (event.isComposing) return;  // keys that belong to an input method's composition
    if (event.key === "Escape" && editing.active()) { event.preventDefault(); editing.cancel(); return; }
    const plain = !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey;
    // ↑ in an empty composer edits your last message here, as in Slack.
    if (event.key === "ArrowUp" && plain && !$("text").value && !editing.active()) {
      const li = lastOwnMessage();
      if (li) { event.preventDefault(); editing.begin(li); }
      return;
    }
    // Enter sends; Shift+Enter adds a line. On a touch keyboard Enter adds a line.
    if (touch.matches) return;
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); submit(); }
  });
  $("text").addEventListener("input", () => {
    fitText();
    // Others see "… is typing": the client sends at most one notice per 2 s.
    if ($("text").value && !editing.active()) client.typing(addressOfConv(conversations.get(active)));
  });

  function lastOwnMessage() {
    const mine = conversations.get(active).list.querySelectorAll("li.msg.mine:not(.pending):not(.deleted)");
    return mine.length ? mine[mine.length - 1] : null;
  }

  $("threads").addEventListener("click", (event) => {
    const button = event.target.closest("li.msg button[data-action]");
    if (!button) return;
    const li = button.closest("li.msg");
    if (button.dataset.action === "edit") editing.begin(li);
    else if (button.dataset.action === "delete") editing.remove(li);
  });
  $("menu").addEventListener("click", () => {
    const shown = root.classList.toggle("show-sidebar");
    $("menu").setAttribute("aria-expanded", String(shown));
  });

  const reads = startReadState(client, me, {
    conversationFor: (address) => address.room ? roomConversation(address.room)
      : address.with === GROUP ? conversation(GROUP) : conversation(keyOf(address.with), address.with),
    addressOf: addressOfConv,
    refresh: refreshEntry,
    active: () => conversations.get(active) ?? null,
    isDirect: (conv) => !conv.room && conv.key !== GROUP,
  });
  const editing = startEditing(client, {text: $("text"), bar: $("editing-bar"), button: $("send"), cancelButton: $("cancel-edit")});
  const typing = startTyping(me, {keyFor: keyOfAddress, element: $("typing")});
  startPeopleSearch(client, me, {openPerson: (name) => { open(conversation(keyOf(name), name).key); $("text").focus(); }});
  const rooms = startRooms(client, me, {
    addRoom: (room) => roomConversation(room.name),
    dropRoom: (name) => { const conv = conversations.get(roomKey(name)); if (conv) dropConversation(conv); },
    openRoom: (name) => { open(roomKey(name)); },
    roomNames: () => [...conversations.values()].filter((conv) => conv.room).map((conv) => conv.room),
    isOnline: (name) => online.has(keyOf(name)),
  });
  // The room named by the address (/#room/<name>), if any.
  function roomInAddress() {
    if (!location.hash.startsWith(ROOM_HASH)) return null;
    try {
      return decodeURIComponent(location.hash.slice(ROOM_HASH.length)) || null;
    } catch (err) {
      return null;  // not a name that was ever encoded
    }
  }

  const wanted = roomInAddress();
  open(GROUP);
  if (wanted) rooms.reach(wanted);
  window.addEventListener("hashchange", () => { const name = roomInAddress(); if (name) rooms.reach(name); });
  client.connect();
}
