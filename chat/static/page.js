// The chat page: conversations in a sidebar, the composer, history and presence. The
// protocol (connection, resume, acknowledgements, resend, backoff, the events fallback)
// is chat-client.js's; this file only turns its events into the page and back.
import {ChatClient, State, newCid} from "./chat-client.js";

const root = document.getElementById("chat");
if (root) startPage(root);

function startPage(root) {
  const me = root.dataset.user;
  const presenceLimit = Number(root.dataset.presenceLimit);
  const $ = (id) => document.getElementById(id);
  const keyOf = (name) => name.toLowerCase();
  const GROUP = "*";
  const PAGE = 50;
  const GROUPING_MS = 5 * 60 * 1000;  // a sender's messages this close together share one header
  const PRESENCE_POLL_MS = 30000;

  const client = new ChatClient({user: me});
  const seen = new Set();        // ids of the messages shown
  const conversations = new Map(); // "*" or a person's key -> conversation
  const online = new Set();      // keys of the people online
  let active = GROUP;
  let firstSync = true;          // the first backlog is history, not news

  $("me").textContent = me;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;   // user text is always text, never HTML
    if (cls) node.className = cls;
    return node;
  }

  function setStatus(state, text) {
    const status = $("status");
    status.dataset.state = state;
    status.textContent = text;
  }

  // -- conversations and the sidebar ---------------------------------------------

  function conversation(key, name) {
    let conv = conversations.get(key);
    if (conv) return conv;
    const label = key === GROUP ? "Everyone" : name;
    const list = el("ol", undefined, "thread");
    list.setAttribute("aria-label", `Messages with ${label}`);
    list.hidden = key !== active;
    $("threads").append(list);
    const button = el("button", undefined, "conv");
    button.type = "button";
    button.dataset.conv = key;
    button.append(el("span", undefined, "dot"), el("span", label, "name"), el("span", "", "unread"));
    button.addEventListener("click", () => { open(key); $("text").focus(); });
    conv = {key, name: label, list, button, unread: 0, oldest: Infinity, fetched: false, complete: false};
    conversations.set(key, conv);
    placeInSidebar(conv);
    refreshEntry(conv);
    return conv;
  }

  function placeInSidebar(conv) {
    // Everyone first, then people by name.
    const item = el("li");
    item.append(conv.button);
    const items = [...$("conversations").children];
    const after = conv.key === GROUP ? items[0]
      : items.find((li) => li.firstChild.dataset.conv !== GROUP
          && conversations.get(li.firstChild.dataset.conv).name.localeCompare(conv.name) > 0);
    $("conversations").insertBefore(item, after || null);
  }

  function refreshEntry(conv) {
    const isOnline = conv.key === GROUP || online.has(conv.key);
    conv.button.classList.toggle("online", isOnline);
    conv.button.querySelector(".unread").textContent = conv.unread ? String(conv.unread) : "";
    if (conv.key === active) conv.button.setAttribute("aria-current", "true");
    else conv.button.removeAttribute("aria-current");
    const parts = [conv.name];
    if (conv.key !== GROUP) parts.push(isOnline ? "online" : "offline");
    if (conv.unread) parts.push(`${conv.unread} unread`);
    conv.button.setAttribute("aria-label", parts.join(", "));
    const total = [...conversations.values()].reduce((sum, c) => sum + c.unread, 0);
    $("menu-unread").textContent = total ? `(${total} unread)` : "";
  }

  function open(key) {
    const previous = conversations.get(active);
    active = key;
    const conv = conversation(key);
    if (previous) { previous.list.hidden = true; refreshEntry(previous); }
    conv.list.hidden = false;
    conv.unread = 0;
    refreshEntry(conv);
    $("title").textContent = conv.name;
    $("text-label").textContent = `Message to ${conv.name}`;
    root.classList.remove("show-sidebar");
    $("menu").setAttribute("aria-expanded", "false");
    updateOlderButton(conv);
    scrollToEnd();
    if (!conv.fetched) loadOlder();
  }

  // -- messages -------------------------------------------------------------------

  function conversationOf(m) {
    if (!m.to_user) return conversation(GROUP);
    const other = keyOf(m.from_user) === keyOf(me) ? m.to_user : m.from_user;
    return conversation(keyOf(other), other);
  }

  function messageItem(m) {
    const mine = keyOf(m.from_user) === keyOf(me);
    const li = el("li", undefined, mine ? "msg mine" : "msg");
    li.dataset.id = m.id;
    li.dataset.from = keyOf(m.from_user);
    li.dataset.ts = Date.parse(m.ts);
    const when = new Date(m.ts);
    const time = el("time", when.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}));
    time.dateTime = m.ts;
    time.title = when.toLocaleString();
    const meta = el("div", undefined, "meta");
    meta.append(el("span", mine ? "You" : m.from_user, "from"), " ", time);
    li.append(meta, el("div", m.msg, "text"));
    return li;
  }

  function regroup(li) {
    // A message continues its sender's group when the one before it is theirs and recent.
    if (!li || !li.classList.contains("msg")) return;
    const prev = li.previousElementSibling;
    const continues = prev && prev.classList.contains("msg") && prev.dataset.from === li.dataset.from
      && Number(li.dataset.ts) - Number(prev.dataset.ts) < GROUPING_MS;
    li.classList.toggle("cont", Boolean(continues));
  }

  // how: "backlog" (history on first load), "history" (scrolled back) or "live".
  function showMessage(m, how) {
    if (m.cid) removePending(m.cid);
    if (seen.has(m.id)) return;
    seen.add(m.id);
    const conv = conversationOf(m);
    conv.oldest = Math.min(conv.oldest, m.id);
    const li = messageItem(m);
    const list = conv.list;
    const wasAtEnd = nearEnd();
    const after = [...list.children].find((node) => node.classList.contains("pending") || Number(node.dataset.id) > m.id);
    list.insertBefore(li, after || null);
    regroup(li);
    regroup(li.nextElementSibling);
    const mine = li.classList.contains("mine");
    if (how === "live" && !mine) {
      if (conv.key !== active) { conv.unread += 1; refreshEntry(conv); }
      $("announce").textContent = `${m.from_user}${m.to_user ? " to you" : ""}: ${m.msg}`;
    }
    if (conv.key === active && how !== "history" && (mine || wasAtEnd)) scrollToEnd();
  }

  function showPending(cid, frame) {
    const conv = frame.to_user ? conversation(keyOf(frame.to_user), frame.to_user) : conversation(GROUP);
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
        messages = await client.history({with: conv.key === GROUP ? GROUP : conv.name, before: conv.oldest, limit: PAGE});
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
    if (key === keyOf(me)) return;
    const conv = conversation(key, name);
    if (!isOnline && key !== active && !conv.list.querySelector(".msg")) forget(conv);
    else refreshEntry(conv);
  }

  // Someone never talked with leaves the sidebar when they go offline: a crowd of
  // passers-by (or of names made to fill it) does not stay in it.
  function forget(conv) {
    conversations.delete(conv.key);
    conv.button.parentElement.remove();
    conv.list.remove();
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
  client.on("status", ({state, transport, delay, code, reason}) => {
    if (state === State.RECONNECTING && code === 1008) checkSession(reason);
    const how = transport === "sse" ? " (events)" : "";
    if (state === State.LIVE) setStatus("live", `live${how}`);
    else if (state === State.RECONNECTING) {
      setStatus("reconnecting", how ? `reconnecting${how}…` : `reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`);
    } else if (state !== State.CLOSED) setStatus("connecting", `connecting${how}…`);
  });
  client.on("reset", () => seen.clear());  // the server's history is not what we saw
  client.on("hello", (hello) => replaceOnline(hello.online));
  client.on("message", (m) => showMessage(m, firstSync ? "backlog" : "live"));
  client.on("synced", () => { firstSync = false; });
  client.on("presence", (frame) => setOnline(frame.user, frame.online));
  client.on("error", (frame) => setStatus($("status").dataset.state, `error: ${frame.detail}`));

  // A socket closed for policy may mean the session ended elsewhere (logged out, the
  // password changed, the account deleted): then show the login form, saying so, and
  // keep the draft for after the next log-in.
  async function checkSession(reason) {
    try {
      const response = await fetch("/api/users", {cache: "no-store"});
      if (response.status !== 401) return;
    } catch (err) {
      return;
    }
    client.close();
    sessionStorage.setItem(DRAFT, $("text").value);
    location.assign(`/?notice=${encodeURIComponent(`Your session ended (${reason || "logged out"}). Log in again; your draft is kept.`)}`);
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
    const text = $("text");
    if (!text.value.trim()) return;
    const cid = newCid();
    const frame = {msg: text.value, cid};
    if (active !== GROUP) frame.to_user = conversations.get(active).name;
    showPending(cid, frame);
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

  $("composer").addEventListener("submit", (event) => { event.preventDefault(); submit(); });
  $("text").addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter adds a line; Enter that ends an input-method composition does neither.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
  });
  $("text").addEventListener("input", fitText);
  $("menu").addEventListener("click", () => {
    const shown = root.classList.toggle("show-sidebar");
    $("menu").setAttribute("aria-expanded", String(shown));
  });

  open(GROUP);
  client.connect();
}
