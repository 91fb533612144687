// What the live tests of chat-client.js share: one server per test file, its clients
// (closed after each test), and bounded waits on a client's events.
import {after, afterEach, before} from "node:test";

import WebSocket from "ws";

import {ChatClient} from "../../chat/static/chat-client.js";
import {EventSource} from "./eventsource.mjs";
import {LiveServer, sleep, timeout, within} from "./live-server.mjs";

/**
 * Start a live server for the calling test file (stopped after it); returns
 * {server(), tokenOf(name), clientFor(name, options)}.
 */
export function liveServer() {
  let server;
  const opened = [];
  const tokens = new Map();
  before(async () => { server = await new LiveServer().start(); }, {timeout: timeout(40)});
  after(async () => { await server?.dispose(); }, {timeout: timeout(30)});
  afterEach(() => { for (const client of opened.splice(0)) client.close(); });

  async function tokenOf(name) {
    if (!tokens.has(name)) tokens.set(name, await server.token(name));
    return tokens.get(name);
  }

  /** A ChatClient for `name` on the live server, with Node's transports; closed after the test. */
  async function clientFor(name, options = {}) {
    const client = new ChatClient({user: name, server: server.url, token: await tokenOf(name), WebSocket, EventSource, ...options});
    opened.push(client);
    return client;
  }

  return {server: () => server, tokenOf, clientFor};
}

/** The client's events as they come: {type, args}. */
export function recorder(client) {
  const log = [];
  for (const type of ["status", "hello", "message", "member", "edit", "delete", "typing", "synced", "presence", "error", "reset"]) {
    client.on(type, (...args) => log.push({type, args}));
  }
  log.of = (type) => log.filter((entry) => entry.type === type).map((entry) => entry.args[0]);
  return log;
}

/** The next `type` event of `client` for which `match` holds (bounded). */
export function next(client, type, match = () => true, what = type) {
  let off;
  const seen = new Promise((resolve) => {
    off = client.on(type, (...args) => { if (match(...args)) resolve(args); });
  });
  return within(seen, timeout(10), what).finally(off);
}

/** `n` "synced" events of `client` (bounded). */
export async function syncedTimes(log, n, what) {
  const deadline = Date.now() + timeout(15);
  while (log.of("synced").length < n) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A WebSocket class around ws that a test can hold off (`gate.open = false`: the next
 * attempts fail at once), cut, or deafen until a frame (`deafUntil`: drop every frame and
 * hang up when one matches, as if the connection died just before that frame came in).
 */
export function gatedSockets() {
  const gate = {open: true, urls: [], sockets: [], sent: []};
  class GatedSocket {
    constructor(url) {
      gate.urls.push(url);
      if (!gate.open) throw new Error("the test holds this client off");
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      this.deafUntil = null;
      this.real = new WebSocket(url);
      this.real.onopen = (event) => this.onopen?.(event);
      this.real.onerror = (event) => this.onerror?.(event);
      this.real.onclose = (event) => this.onclose?.(event);
      this.real.onmessage = (event) => {
        if (this.deafUntil) {
          if (this.deafUntil(JSON.parse(event.data))) { this.deafUntil = () => false; this.real.terminate(); }
          return;
        }
        this.onmessage?.(event);
      };
      gate.sockets.push(this);
    }

    get readyState() { return this.real.readyState; }
    send(data) { gate.sent.push(JSON.parse(data)); this.real.send(data); }
    close(code, reason) { this.real.close(code, reason); }
  }
  return {gate, GatedSocket};
}

/** id -> how many times it occurs among `events`. */
export const countIds = (events) => events.reduce((counts, m) => counts.set(m.id, (counts.get(m.id) || 0) + 1), new Map());
