// The chat protocol's client side, without the page: a WebSocket to /ws/<user> that
// resumes with `since`, acknowledgements by `cid`, unacknowledged messages sent again
// after a reconnect, capped exponential backoff, and Server-Sent Events with
// POST /api/messages where sockets cannot get through. No DOM: the WebSocket,
// EventSource and fetch it uses are options (the globals by default), so it runs in
// browsers and in Node alike. docs/client-module.md is its manual.

/** The lifecycle of a client: one state, never a set of flags that must agree. */
export const State = Object.freeze({
  IDLE: "idle",                 // built, connect() not called yet
  CONNECTING: "connecting",     // a socket or stream is opening
  SYNCING: "syncing",           // hello received; the backlog is arriving
  LIVE: "live",                 // synced: sends go out at once
  RECONNECTING: "reconnecting", // lost; the next attempt is scheduled
  CLOSED: "closed",             // close() was called; final
});

const OPEN = 1;                  // WebSocket.OPEN
const EVENTS_CLOSED = 2;         // EventSource.CLOSED
const MAX_SEEN = 10000;          // message ids remembered to drop a second copy
const PROBE_TIMEOUT_MS = 5000;
const TYPING_INTERVAL_MS = 2000; // the contract passes on one typing frame per sender and conversation per 2 s
// Every server frame type (v1 and v2): an event stream names each one it carries.
const FRAME_TYPES = ["hello", "message", "synced", "presence", "error", "member", "read", "typing", "edit", "delete"];
// The frames stored in the log: each has an id of the one sequence, and `since` counts them all.
const STORED_TYPES = new Set(["message", "member", "edit", "delete"]);

/** Raised (as a rejection) when the server refuses a message, or the client is closed. */
export class ChatError extends Error {
  constructor(code, detail, {cid = null, status = null} = {}) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = "ChatError";
    this.code = code;
    this.detail = detail || "";
    this.cid = cid;
    this.status = status;   // the HTTP status, for a refusal over HTTP
  }
}

/**
 * The wait before reconnect attempt `attempt` (0 for the first): `initial * factor**attempt`,
 * capped at `max`, then shortened by up to `jitter` (a fraction) at random so that many
 * clients cut off at once do not all come back at the same instant.
 */
export function backoffDelay(attempt, {initial = 500, max = 15000, factor = 2, jitter = 0} = {}, random = Math.random) {
  const base = Math.min(max, initial * factor ** Math.max(0, attempt));
  return Math.round(base * (1 - jitter * random()));
}

/**
 * The conversation a frame belongs to, as `user` names it: `{room}`, `{with: "*"}` (the
 * group) or `{with: <the other person>}`. For messages, edits and deletes (`room`,
 * `from_user`, `to_user`), typing and read frames (`room`, `with`, `user`).
 */
export function conversationOf(frame, user) {
  if (frame.room) return {room: frame.room};
  const me = String(user).toLowerCase();
  if (frame.type === "typing" || frame.type === "read") {
    // A direct notice names the conversation as its sender did: by the recipient's name.
    if (frame.with === "*") return {with: "*"};
    return {with: String(frame.with).toLowerCase() === me ? frame.user : frame.with};
  }
  if (!frame.to_user) return {with: "*"};
  return {with: String(frame.from_user).toLowerCase() === me ? frame.to_user : frame.from_user};
}

/** A fresh client id for a message (`cid`). */
export function newCid() {
  const crypto = globalThis.crypto;
  if (crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function reportError(err) {
  if (typeof globalThis.reportError === "function") globalThis.reportError(err);
  else console.error(err);  // eslint-disable-line no-console
}

/** A promise whose rejection is not reported when nobody listens (the event says it too). */
function deferred() {
  let resolve, reject;
  const promise = new Promise((yes, no) => { resolve = yes; reject = no; });
  promise.catch(() => {});
  return {promise, resolve, reject, settled: false};
}

export class ChatClient {
  /**
   * @param {object} options
   * @param {string} options.user the username to connect as
   * @param {string} [options.server] the server's origin, e.g. "https://chat.example"
   *   (default: the page's own, `location.origin`)
   * @param {string|function} [options.token] a token, or a function giving one (or a
   *   promise of one) before each connection; without it, the session cookie identifies
   * @param {number} [options.since] resume after this message id on the first connection
   * @param {"auto"|"websocket"|"sse"} [options.transport] "auto": WebSocket, then events
   *   once `fallbackAfter` sockets in a row closed before their hello on a reachable server
   * @param {object} [options.backoff] {initial: 500, max: 15000, factor: 2, jitter: 0.25}
   * @param {number} [options.typingInterval] ms between two typing frames to one conversation (2000)
   */
  constructor(options = {}) {
    if (!options.user) throw new TypeError("ChatClient: `user` is required");
    const server = options.server ?? globalThis.location?.origin;
    if (!server) throw new TypeError("ChatClient: `server` is required outside a browser");
    this.user = options.user;
    this.server = String(server).replace(/\/+$/, "");
    this._token = options.token ?? null;
    this._transportOption = options.transport ?? "auto";
    this._fallbackAfter = options.fallbackAfter ?? 2;
    this._backoff = {initial: 500, max: 15000, factor: 2, jitter: 0.25, ...options.backoff};
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._EventSource = options.EventSource ?? globalThis.EventSource;
    this._fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    if (!this._WebSocket && !this._EventSource) throw new TypeError("ChatClient: neither WebSocket nor EventSource");

    this._state = State.IDLE;
    this._useEvents = this._transportOption === "sse" || !this._WebSocket;
    this._lastId = options.since ?? null;  // newest id received on a connection, for `since`
    this._seen = new Set();                // ids of the messages emitted, newest last
    this._pending = new Map();             // cid -> {frame, promise, resolve, reject, attempts}
    this._handlers = new Map();            // event type -> Set of handlers
    this._socket = null;
    this._events = null;
    this._timer = null;                    // the next attempt to connect
    this._postTimers = new Set();          // POSTs to try again
    this._attempt = 0;                     // reconnects since the last synced
    this._failedSockets = 0;               // sockets in a row closed before hello, server reachable
    this._inBacklog = false;
    this._ready = deferred();              // the first synced
    this._typingInterval = options.typingInterval ?? TYPING_INTERVAL_MS;
    this._typingSent = new Map();          // conversation key -> when a typing frame last went out
  }

  // -- what an integrator reads -----------------------------------------------------

  /** One of State's values. */
  get state() { return this._state; }

  /** "websocket" or "sse": the transport in use (or to be used next). */
  get transport() { return this._useEvents ? "sse" : "websocket"; }

  /** The newest event id (message, member event, …) received on a connection; the next one resumes after it. */
  get lastId() { return this._lastId; }

  /** The frames sent but not yet acknowledged, oldest first. */
  get pending() { return [...this._pending.values()].map((entry) => entry.frame); }

  // -- events -------------------------------------------------------------------------

  /**
   * Call `handler` on each event of `type`: "status", "hello", "message", "member",
   * "edit", "delete", "typing", "read", "synced", "presence", "error", "reset", or "frame" (every
   * server frame). Returns a function that removes it.
   */
  on(type, handler) {
    if (!this._handlers.has(type)) this._handlers.set(type, new Set());
    this._handlers.get(type).add(handler);
    return () => this.off(type, handler);
  }

  off(type, handler) {
    this._handlers.get(type)?.delete(handler);
  }

  _emit(type, ...args) {
    for (const handler of [...(this._handlers.get(type) ?? [])]) {
      try {
        handler(...args);
      } catch (err) {
        reportError(err);  // one broken handler does not stop the client
      }
    }
  }

  _setState(state, info = {}) {
    this._state = state;
    this._emit("status", {state, transport: this.transport, ...info});
  }

  // -- the lifecycle ------------------------------------------------------------------

  /** Start connecting (once). Resolves with the first `synced` frame. */
  connect() {
    if (this._state === State.IDLE) this._open();
    return this._ready.promise;
  }

  /** Stop for good: close the connection, reject what is still pending. */
  close() {
    if (this._state === State.CLOSED) return;
    clearTimeout(this._timer);
    for (const timer of this._postTimers) clearTimeout(timer);
    this._postTimers.clear();
    const socket = this._socket, events = this._events;
    this._socket = this._events = null;
    this._setState(State.CLOSED);
    if (socket) {
      socket.onclose = socket.onmessage = null;
      socket.onerror = () => {};  // closing a socket still opening reports an error
      socket.close(1000);
    }
    if (events) events.close();
    const error = this._closedError();
    for (const entry of this._pending.values()) entry.reject(error);
    this._pending.clear();
    if (!this._ready.settled) { this._ready.settled = true; this._ready.reject(error); }
  }

  _closedError() {
    return new ChatError("closed", "the client was closed before the acknowledgement");
  }

  async _open() {
    clearTimeout(this._timer);
    this._timer = null;
    this._setState(State.CONNECTING);
    let token = null;
    try {
      token = typeof this._token === "function" ? await this._token() : this._token;
    } catch (err) {
      reportError(err);
      if (this._state !== State.CLOSED) this._retry({});
      return;
    }
    if (this._state !== State.CONNECTING) return;  // closed meanwhile
    if (this._useEvents) this._openEvents(token);
    else this._openSocket(token);
  }

  _url(path, token, since) {
    const url = new URL(path, this.server + "/");
    if (since !== null && since !== undefined) url.searchParams.set("since", String(since));
    if (token) url.searchParams.set("token", token);
    return url;
  }

  _retry(info) {
    const delay = backoffDelay(this._attempt, this._backoff);
    this._attempt += 1;
    this._setState(State.RECONNECTING, {delay, ...info});
    this._timer = setTimeout(() => this._open(), delay);
    return delay;
  }

  // -- WebSocket ----------------------------------------------------------------------

  _openSocket(token) {
    const url = this._url(`/ws/${encodeURIComponent(this.user)}`, token, this._lastId);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new this._WebSocket(url.href);
    } catch (err) {
      this._socketLost(false, {error: err});
      return;
    }
    this._socket = socket;
    let greeted = false;
    socket.onmessage = (event) => {
      if (socket !== this._socket) return;
      const frame = parse(event.data);
      if (!frame) return;
      if (frame.type === "hello") { greeted = true; this._failedSockets = 0; }
      this._onFrame(frame);
    };
    socket.onerror = () => {};  // a close event follows
    socket.onclose = (event) => {
      if (socket !== this._socket) return;
      this._socket = null;
      this._socketLost(greeted, {code: event.code, reason: event.reason});
    };
  }

  _socketLost(greeted, info) {
    if (this._state === State.CLOSED) return;
    this._inBacklog = false;
    this._retry(info);
    const mayFallBack = !greeted && this._transportOption === "auto" && this._EventSource;
    if (!mayFallBack) return;
    // A socket that dies before its hello, on a server that answers HTTP, is being
    // blocked on the way (a proxy that strips upgrades): after a few, use events. A
    // server that does not answer at all is just down: keep trying sockets.
    this._reachable().then((reachable) => {
      if (!reachable || this._state !== State.RECONNECTING || this._useEvents) return;
      this._failedSockets += 1;
      if (this._failedSockets < this._fallbackAfter) return;
      this._useEvents = true;
      this._open();
    });
  }

  async _reachable() {
    if (!this._fetch) return false;
    const abort = typeof AbortController === "function" ? new AbortController() : null;
    const timer = abort ? setTimeout(() => abort.abort(), PROBE_TIMEOUT_MS) : null;
    try {
      const response = await this._fetch(`${this.server}/healthz`, {cache: "no-store", signal: abort?.signal});
      return response.ok;
    } catch (err) {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  // -- Server-Sent Events -------------------------------------------------------------

  _openEvents(token) {
    // EventSource reconnects by itself and resumes with Last-Event-ID (the last message
    // id); only a stream it gives up on (an HTTP error) is reopened here, with `since`.
    const url = this._url(`/events/${encodeURIComponent(this.user)}`, token, this._lastId);
    let events;
    try {
      events = new this._EventSource(url.href);
    } catch (err) {
      reportError(err);
      this._retry({error: err});
      return;
    }
    this._events = events;
    const onEvent = (event) => {
      if (events !== this._events) return;
      if (typeof event.data !== "string") { this._eventsFailed(events); return; }  // the connection's own error
      const frame = parse(event.data);
      if (frame) this._onFrame(frame);
    };
    for (const type of FRAME_TYPES) events.addEventListener(type, onEvent);
  }

  _eventsFailed(events) {
    this._inBacklog = false;
    if (events.readyState === EVENTS_CLOSED) {
      events.close();
      this._events = null;
      this._retry({});
    } else {
      this._setState(State.RECONNECTING, {});  // EventSource tries again itself
    }
  }

  async _post(entry) {
    const {frame} = entry;
    const {method, path, body: sent} = httpFormOf(frame);
    let response, body;
    try {
      response = await this._fetch(`${this.server}${path}`, {
        method, credentials: "same-origin", headers: await this._headers({"Content-Type": "application/json"}),
        body: JSON.stringify(sent)});
      body = await response.json();
    } catch (err) {
      // Still pending: tried again shortly while the stream is up, and after every synced.
      const timer = setTimeout(() => {
        this._postTimers.delete(timer);
        if (this._pending.get(frame.cid) === entry && this._state === State.LIVE && this._events) this._post(entry);
      }, backoffDelay(entry.attempts++, this._backoff));
      this._postTimers.add(timer);
      return;
    }
    if (response.ok) this._onStored({...body, cid: frame.cid}, false);
    else this._onError({type: "error", ...httpError(response, body), cid: frame.cid}, response.status);
  }

  // -- frames -------------------------------------------------------------------------

  _onFrame(frame) {
    this._emit("frame", frame);
    if (STORED_TYPES.has(frame.type)) this._advance(frame);
    switch (frame.type) {
      case "hello":
        // A server whose history is behind ours was reset: what we saw is not its history.
        if (this._lastId !== null && frame.last_id < this._lastId) {
          this._seen.clear();
          this._lastId = null;
          this._emit("reset", frame);
        }
        this._inBacklog = true;
        this._setState(State.SYNCING);
        this._emit("hello", frame);
        break;
      case "message":
      case "edit":
      case "delete":
        this._onStored(frame, true);
        break;
      case "typing":
        this._emit("typing", frame);
        break;
      case "read":
        this._emit("read", frame);
        break;
      case "member":
        if (this._firstSight(frame.id)) this._emit("member", frame, this._info(true));
        break;
      case "synced":
        this._inBacklog = false;
        this._attempt = 0;
        this._setState(State.LIVE);
        this._emit("synced", frame);
        if (!this._ready.settled) { this._ready.settled = true; this._ready.resolve(frame); }
        // Sent again with the same cid: the server drops what it already stored and
        // answers with the original acknowledgement.
        for (const entry of this._pending.values()) this._transmit(entry);
        break;
      case "presence":
        this._emit("presence", frame);
        break;
      case "error":
        this._onError(frame, null);
        break;
      default:
        break;  // other frames: the "frame" event has them
    }
  }

  // Only what came on the connection moves `since` (an answer to a POST can overtake
  // older events still on their way down the stream), and every stored event moves it.
  _advance(frame) {
    if (Number.isInteger(frame.id) && frame.id > (this._lastId ?? 0)) this._lastId = frame.id;
  }

  /** False for an id already emitted: a second copy (a resend's ack, a POST's answer). */
  _firstSight(id) {
    if (this._seen.has(id)) return false;
    this._seen.add(id);
    if (this._seen.size > MAX_SEEN) this._seen.delete(this._seen.values().next().value);
    return true;
  }

  _info(onConnection) {
    return {backlog: onConnection && this._inBacklog, transport: this.transport};
  }

  /** A stored message, edit or delete: the acknowledgement of its cid, and its event once per id. */
  _onStored(event, onConnection) {
    const entry = event.cid != null ? this._pending.get(event.cid) : undefined;
    if (entry) { this._pending.delete(event.cid); entry.resolve(event); }
    const type = event.type === "edit" || event.type === "delete" ? event.type : "message";
    if (this._firstSight(event.id)) this._emit(type, event, this._info(onConnection));
  }

  _onError(frame, status) {
    const entry = frame.cid != null ? this._pending.get(frame.cid) : undefined;
    if (entry) {
      this._pending.delete(frame.cid);
      entry.reject(new ChatError(frame.code, frame.detail, {cid: frame.cid, status}));
    }
    this._emit("error", frame);
  }

  // -- sending ------------------------------------------------------------------------

  /**
   * Send `{to_user?, msg, cid?}`, or `{room, msg, cid?}` to a room (any other field is
   * passed on as is). Resolves with the stored message (the acknowledgement), rejects with
   * a ChatError when the server refuses it. Until then it is pending, and sent again after
   * each reconnect.
   */
  send(frame) {
    if (this._state === State.CLOSED) return Promise.reject(this._closedError());
    const out = {...frame};
    if (out.cid == null) out.cid = newCid();
    const known = this._pending.get(out.cid);
    if (known) return known.promise;
    const entry = {...deferred(), frame: out, attempts: 0};
    this._pending.set(out.cid, entry);
    if (this._state === State.LIVE) this._transmit(entry);
    return entry.promise;
  }

  /**
   * Change your message `id` to `msg`. Resolves with the stored `edit` event (the
   * acknowledgement), rejects with a ChatError (`not_found`, `forbidden`, `too_long`, …).
   * Pending and sent again after a reconnect, like send().
   */
  edit(id, msg, {cid} = {}) {
    return this.send({type: "edit", id, msg, cid});
  }

  /** Delete your message `id`. Resolves with the stored `delete` event; like edit(). */
  delete(id, {cid} = {}) {
    return this.send({type: "delete", id, cid});
  }

  /**
   * Say that this user is typing in a conversation: `{with: "bob"}`, `{with: "*"}` or
   * `{room}`. Call it on every keystroke: at most one frame per conversation goes out every
   * `typingInterval` ms, and none while the client is not live (a notice is not worth
   * keeping). Returns whether one went out.
   */
  typing(conversation) {
    if (this._state !== State.LIVE) return false;
    const target = conversation.room != null ? {room: conversation.room} : {with: conversation.with ?? "*"};
    const key = target.room != null ? `#${String(target.room).toLowerCase()}` : String(target.with).toLowerCase();
    const now = Date.now();
    if (now - (this._typingSent.get(key) ?? -Infinity) < this._typingInterval) return false;
    this._typingSent.set(key, now);
    const frame = {type: "typing", ...target};
    if (this._socket && this._socket.readyState === OPEN) {
      this._socket.send(JSON.stringify(frame));
    } else if (this._events) {
      this._request("POST", "/api/typing", target).catch(() => {});  // a lost notice is not worth a retry
    } else {
      return false;
    }
    return true;
  }

  /**
   * Move this user's read marker in a conversation (`{with: "bob"}`, `{with: "*"}` or
   * `{room}`) up to message id `up_to`. Over a socket the read frame goes out and the
   * answer is the `read` event; over events it is `POST /api/read`, which resolves with
   * `{up_to}` (the marker now). Not kept for later: while not live it does nothing and
   * resolves with null (the page sends it again once it is back).
   */
  async markRead({with: other, room, up_to: upTo}) {
    if (this._state !== State.LIVE) return null;
    const target = room != null ? {room, up_to: upTo} : {with: other ?? "*", up_to: upTo};
    if (this._socket && this._socket.readyState === OPEN) {
      this._socket.send(JSON.stringify({type: "read", ...target}));
      return null;
    }
    if (this._events) return this._request("POST", "/api/read", target);
    return null;
  }

  _transmit(entry) {
    if (this._socket && this._socket.readyState === OPEN) this._socket.send(JSON.stringify(entry.frame));
    else if (this._events) this._post(entry);
  }

  // -- HTTP ---------------------------------------------------------------------------

  async _headers(extra = {}) {
    const token = typeof this._token === "function" ? await this._token() : this._token;
    return token ? {...extra, Authorization: `Bearer ${token}`} : extra;
  }

  /** A JSON request to the server's API: the parsed answer, or a ChatError for a refusal. */
  async _request(method, path, body) {
    const headers = await this._headers(body === undefined ? {} : {"Content-Type": "application/json"});
    const response = await this._fetch(`${this.server}${path}`, {
      method, credentials: "same-origin", headers, body: body === undefined ? undefined : JSON.stringify(body)});
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const {code, detail} = httpError(response, answer);
      throw new ChatError(code, detail, {status: response.status});
    }
    return answer;
  }

  _get(path) {
    return this._request("GET", path);
  }

  /**
   * Earlier messages of one conversation, oldest first: `with` a username or "*" (the
   * group, the default), or `room` a room's name; those with an id below `before`, at most
   * `limit` (1 to 200, 50). Messages only: member events come on the connection.
   */
  async history({with: other = "*", room, before, limit} = {}) {
    const query = new URLSearchParams(room != null ? {room} : {with: other});
    if (before !== undefined && before !== null && Number.isFinite(Number(before))) query.set("before", String(before));
    if (limit !== undefined) query.set("limit", String(limit));
    return (await this._get(`/api/messages?${query}`)).messages;
  }

  // -- rooms (each answers the ROOM of the contract, or rejects with a ChatError) -----

  /** Every public room, and every private room this user is in, by name (GET /api/rooms). */
  async rooms() {
    return (await this._get("/api/rooms")).rooms;
  }

  /** Create a room; this user is its first member. */
  async createRoom({name, private: hidden = false, topic = ""}) {
    return (await this._request("POST", "/api/rooms", {name, private: hidden, topic})).room;
  }

  /** One room, as this user sees it (`unknown_room` for a private room they are not in). */
  async room(name) {
    return (await this._get(roomPath(name))).room;
  }

  /** Set a room's topic (members only). */
  async setTopic(name, topic) {
    return (await this._request("PATCH", roomPath(name), {topic})).room;
  }

  /** Join a public room (a member already: the same answer). */
  async joinRoom(name) {
    return (await this._request("POST", `${roomPath(name)}/join`)).room;
  }

  /** Leave a room. */
  async leaveRoom(name) {
    return (await this._request("POST", `${roomPath(name)}/leave`)).room;
  }

  /** Add a known user to a room this user is in. */
  async addMember(name, user) {
    return (await this._request("POST", `${roomPath(name)}/members`, {user})).room;
  }

  /** A room's members, by name: `[{user, online}]`. */
  async members(name) {
    return (await this._get(`${roomPath(name)}/members`)).members;
  }

  /**
   * The people whose names start with `prefix` (any case), online or not, by name:
   * `[{name, online}]` (GET /api/users?q=), at most `limit` of them when given.
   */
  async searchUsers(prefix, {limit} = {}) {
    const query = new URLSearchParams({q: prefix});
    if (limit !== undefined) query.set("limit", String(limit));
    return (await this._get(`/api/users?${query}`)).users;
  }

  /**
   * Every conversation of this user, newest activity first (GET /api/conversations): items
   * of `with` or `room`, `last_id`, `read_up_to`, `unread`, and `peer_read_up_to` (direct).
   */
  async fetchConversations() {
    return (await this._get("/api/conversations")).conversations;
  }

  /** Who is online now (GET /api/users). */
  async fetchOnline() {
    return (await this._get("/api/users")).online;
  }
}

/** Where a frame goes over HTTP, on events: POST a message, PATCH an edit, DELETE a delete. */
function httpFormOf(frame) {
  const {type, id, ...rest} = frame;
  if (type === "edit") return {method: "PATCH", path: `/api/messages/${encodeURIComponent(id)}`, body: rest};
  if (type === "delete") return {method: "DELETE", path: `/api/messages/${encodeURIComponent(id)}`, body: rest};
  return {method: "POST", path: "/api/messages", body: frame};
}

function roomPath(name) {
  return `/api/rooms/${encodeURIComponent(name)}`;
}

function parse(data) {
  try {
    const frame = JSON.parse(data);
    return frame && typeof frame === "object" ? frame : null;
  } catch (err) {
    return null;
  }
}

function httpError(response, body) {
  const error = body && body.error ? body.error : {};
  return {code: error.code || `http_${response.status}`, detail: error.detail || response.statusText || ""};
}
