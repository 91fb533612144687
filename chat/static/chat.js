// The chat page: one WebSocket, reconnecting with `since` so nothing is missed or shown twice.
// Where sockets cannot get through (a proxy that strips upgrades), Server-Sent Events
// and POST /api/messages take over.
"use strict";
(function () {
  const root = document.getElementById("chat");
  const me = root.dataset.user;
  const $ = (id) => document.getElementById(id);
  const seen = new Set();   // message ids already shown
  let lastId = null;         // newest id received, for `since` on reconnect
  let socket = null;
  let backoff = 500;
  let failedSockets = 0;     // sockets in a row that closed before their hello
  let events = null;         // the EventSource, once sockets have been given up
  const FALLBACK_AFTER = 2;

  $("me").textContent = me;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;   // user text is always text, never HTML
    if (cls) node.className = cls;
    return node;
  }

  function setStatus(text) { $("status").textContent = text; }

  const oldest = new Map();  // conversation ("*" or the other user) -> smallest id shown

  function conversationOf(m) {
    if (!m.to_user) return "*";
    return m.from_user.toLowerCase() === me.toLowerCase() ? m.to_user : m.from_user;
  }

  // Show a message once, in id order; live ones normally land at the end.
  function showMessage(m, live) {
    if (seen.has(m.id)) return;
    seen.add(m.id);
    if (live) lastId = Math.max(lastId || 0, m.id);
    const conv = conversationOf(m);
    oldest.set(conv, Math.min(oldest.get(conv) ?? Infinity, m.id));
    const li = el("li", undefined, m.to_user ? "direct" : "group");
    li.dataset.id = m.id;
    const when = new Date(m.ts).toLocaleTimeString();
    const route = m.to_user ? `${m.from_user} → ${m.to_user}` : m.from_user;
    li.append(el("span", `${when} ${route}`, "meta"), el("span", m.msg, "text"));
    const list = $("messages");
    const last = list.lastElementChild;
    const after = !last || Number(last.dataset.id) < m.id
      ? null : [...list.children].find((node) => Number(node.dataset.id) > m.id);
    list.insertBefore(li, after || null);
    if (live && !after) li.scrollIntoView({block: "end"});
  }

  // Scroll-back: the page before the oldest message shown, for each conversation.
  let loading = false;
  async function loadOlder() {
    if (loading) return;
    loading = true;
    try {
      const conversations = oldest.size ? [...oldest.keys()] : ["*"];
      for (const conv of conversations) {
        const before = oldest.get(conv);
        const query = new URLSearchParams({with: conv, limit: "50"});
        if (Number.isFinite(before)) query.set("before", before);
        const response = await fetch(`/api/messages?${query}`, {credentials: "same-origin"});
        if (!response.ok) continue;
        const {messages} = await response.json();
        messages.forEach((m) => showMessage(m, false));
      }
    } finally {
      loading = false;
    }
  }
  $("older").addEventListener("click", loadOlder);
  $("messages").addEventListener("scroll", (event) => { if (event.target.scrollTop === 0) loadOlder(); });

  function showOnline(names) {
    const list = $("online");
    const select = $("to");
    const chosen = select.value;
    list.replaceChildren(...names.map((n) => {
      const li = el("li", n);
      li.addEventListener("click", () => { if (n !== me) select.value = n; });
      return li;
    }));
    select.replaceChildren(el("option", "Everyone"), ...names.filter((n) => n !== me).map((n) => {
      const o = el("option", n); o.value = n; return o;
    }));
    select.options[0].value = "";
    if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  }

  let online = [];
  function onFrame(frame) {
    switch (frame.type) {
      case "hello":
        // A server whose history is behind ours was reset: what we saw is not its history.
        if (lastId !== null && frame.last_id < lastId) { seen.clear(); oldest.clear(); lastId = null; }
        online = frame.online; showOnline(online);
        break;
      case "message": showMessage(frame, true); break;
      case "synced": setStatus(events ? "live (events)" : "live"); backoff = 500; break;
      case "presence":
        online = online.filter((n) => n.toLowerCase() !== frame.user.toLowerCase());
        if (frame.online) online.push(frame.user);
        online.sort((a, b) => a.localeCompare(b));
        showOnline(online);
        break;
      case "error": setStatus(`error: ${frame.detail}`); break;
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // Resume after the newest message seen, so nothing is missed or shown twice.
    const since = lastId === null ? "" : `?since=${lastId}`;
    socket = new WebSocket(`${scheme}://${location.host}/ws/${encodeURIComponent(me)}${since}`);
    setStatus("connecting…");
    let greeted = false;
    socket.onmessage = (event) => { greeted = true; failedSockets = 0; onFrame(JSON.parse(event.data)); };
    socket.onclose = () => {
      socket = null;
      if (!greeted && ++failedSockets >= FALLBACK_AFTER) { listenToEvents(); return; }
      setStatus(`reconnecting in ${Math.round(backoff / 1000)} s…`);
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  function listenToEvents() {
    // EventSource reconnects by itself and resumes with Last-Event-ID (the last message id).
    const since = lastId === null ? "" : `?since=${lastId}`;
    events = new EventSource(`/events/${encodeURIComponent(me)}${since}`);
    setStatus("connecting (events)…");
    for (const type of ["hello", "message", "synced", "presence", "error"]) {
      events.addEventListener(type, (event) => onFrame(JSON.parse(event.data)));
    }
    events.onerror = () => setStatus("reconnecting (events)…");
  }

  async function post(frame) {
    const response = await fetch("/api/messages", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(frame)});
    const answer = await response.json();
    if (response.ok) showMessage(answer, true);
    else setStatus(`error: ${answer.error.detail}`);
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text");
    const canSend = events || (socket && socket.readyState === WebSocket.OPEN);
    if (!text.value || !canSend) return;
    const frame = {msg: text.value, cid: crypto.randomUUID ? crypto.randomUUID() : String(Date.now())};
    if ($("to").value) frame.to_user = $("to").value;
    if (events) post(frame);
    else socket.send(JSON.stringify(frame));
    text.value = "";
  });

  connect();
})();
