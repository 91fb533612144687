// chat-client.js without a server: the backoff, when it falls back to events, and close().
// Fake WebSocket, EventSource and fetch stand in, as the module lets an integrator's do.
import assert from "node:assert/strict";
import {test} from "node:test";

import {backoffDelay, ChatClient, State} from "../../chat/static/chat-client.js";
import {sleep, within} from "./live-server.mjs";

const SERVER = "http://chat.invalid";

/** A WebSocket whose every attempt closes before any frame: the server is not there. */
function refusedSockets() {
  const urls = [];
  class Refused {
    constructor(url) {
      urls.push(url);
      this.readyState = 0;
      setTimeout(() => { this.readyState = 3; this.onclose?.({code: 1006, reason: ""}); }, 0);
    }
    send() { throw new Error("not open"); }
    close() {}
  }
  return {urls, Refused};
}

/** A WebSocket that opens and plays `frames` from the server, then stays open. */
function scriptedSockets(frames) {
  const opened = [];
  class Scripted {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      opened.push(this);
      setTimeout(() => {
        this.readyState = 1;
        for (const frame of frames) this.onmessage?.({data: JSON.stringify(frame)});
      }, 0);
    }
    send(data) { this.sent.push(JSON.parse(data)); }
    close() { this.readyState = 3; }
    drop() { this.readyState = 3; this.onclose?.({code: 1006, reason: ""}); }
  }
  return {opened, Scripted};
}

const unreachable = async () => { throw new TypeError("fetch failed"); };
const healthy = async () => ({ok: true, status: 200, json: async () => ({status: "ok"})});

/** Wait (bounded) until `check()` holds. */
async function until(check, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test("the backoff doubles from its start and stops at its cap", () => {
  const delays = Array.from({length: 9}, (_, attempt) => backoffDelay(attempt));
  assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000, 15000]);
  assert.deepEqual([0, 1, 2, 3, 4].map((a) => backoffDelay(a, {initial: 100, max: 1000, factor: 3})), [100, 300, 900, 1000, 1000]);
  assert.equal(backoffDelay(1000), 15000, "no overflow far out");
});

test("jitter only shortens a wait, by at most its fraction", () => {
  const options = {initial: 1000, max: 8000, jitter: 0.25};
  assert.equal(backoffDelay(2, options, () => 0), 4000);
  assert.equal(backoffDelay(2, options, () => 1), 3000);
  for (let i = 0; i < 200; i += 1) {
    const delay = backoffDelay(10, options);
    assert.ok(delay <= 8000 && delay >= 6000, delay);
  }
});

test("a client that cannot reach its server retries with growing, capped waits and stays on sockets", async () => {
  const {urls, Refused} = refusedSockets();
  const client = new ChatClient({user: "zed", server: SERVER, WebSocket: Refused, EventSource: class {}, fetch: unreachable,
    backoff: {initial: 10, max: 80, jitter: 0}});
  const delays = [];
  client.on("status", (s) => { if (s.state === State.RECONNECTING) delays.push(s.delay); });
  client.connect();
  await until(() => delays.length >= 7, "seven attempts");
  client.close();
  assert.deepEqual(delays.slice(0, 7), [10, 20, 40, 80, 80, 80, 80]);
  assert.equal(client.transport, "websocket", "a server that is down is no reason to leave sockets");
  assert.ok(urls.every((url) => url.startsWith("ws://chat.invalid/ws/zed")), urls[0]);
  const attempts = urls.length;
  await sleep(200);
  assert.equal(urls.length, attempts, "no attempt after close()");
});

test("a connection that reached synced starts the backoff over", async () => {
  const {opened, Scripted} = scriptedSockets([
    {type: "hello", user: "yan", online: ["yan"], last_id: 7},
    {type: "message", id: 7, from_user: "xia", to_user: "yan", msg: "hi", ts: "2026-11-21T05:30:00.000Z"},
    {type: "synced", last_id: 7, truncated: false},
  ]);
  const client = new ChatClient({user: "yan", server: SERVER, WebSocket: Scripted, fetch: unreachable,
    backoff: {initial: 10, max: 80, jitter: 0}});
  const delays = [];
  client.on("status", (s) => { if (s.state === State.RECONNECTING) delays.push(s.delay); });
  await within(client.connect(), 2000, "synced");
  for (let i = 1; i <= 3; i += 1) {
    opened.at(-1).drop();
    await until(() => opened.length === i + 1 && client.state === State.LIVE, `reconnect ${i}`);
  }
  client.close();
  assert.deepEqual(delays, [10, 10, 10]);
  assert.equal(new URL(opened.at(-1).url).searchParams.get("since"), "7", "each one resumes after the newest id");
});

test("sockets cut before their hello on a server that answers HTTP: events after `fallbackAfter`", async () => {
  const {urls, Refused} = refusedSockets();
  const streams = [];
  class FakeEvents {
    constructor(url) { this.url = url; this.readyState = 0; streams.push(this); }
    addEventListener() {}
    close() { this.readyState = 2; }
  }
  const client = new ChatClient({user: "wu", server: SERVER, token: "t0k", since: 41, WebSocket: Refused,
    EventSource: FakeEvents, fetch: healthy, fallbackAfter: 3, backoff: {initial: 5, max: 20, jitter: 0}});
  client.connect();
  await until(() => streams.length === 1, "the event stream");
  client.close();
  assert.equal(urls.length, 3);
  assert.equal(client.transport, "sse");
  const url = new URL(streams[0].url);
  assert.equal(url.pathname, "/events/wu");
  assert.equal(url.searchParams.get("since"), "41");
  assert.equal(url.searchParams.get("token"), "t0k");
  assert.equal(streams[0].readyState, 2, "close() closes the stream");
});

test("sending waits for synced; close() rejects what is still pending", async () => {
  const {opened, Scripted} = scriptedSockets([{type: "hello", user: "vee", online: ["vee"], last_id: 0}]);
  const client = new ChatClient({user: "vee", server: SERVER, WebSocket: Scripted, fetch: unreachable});
  client.connect();
  const sent = client.send({msg: "not yet", cid: "c1"});
  assert.equal(client.send({msg: "not yet", cid: "c1"}), sent, "the same cid is the same pending message");
  await until(() => client.state === State.SYNCING, "hello");
  assert.deepEqual(opened[0].sent, [], "nothing goes out before synced");
  assert.deepEqual(client.pending, [{msg: "not yet", cid: "c1"}]);
  client.close();
  await assert.rejects(sent, (err) => err.code === "closed" && err.name === "ChatError");
  assert.deepEqual(client.pending, []);
});

test("a throwing handler does not stop the others or the client", async () => {
  const {Scripted} = scriptedSockets([
    {type: "hello", user: "uma", online: ["uma"], last_id: 0},
    {type: "synced", last_id: 0, truncated: false},
  ]);
  const client = new ChatClient({user: "uma", server: SERVER, WebSocket: Scripted, fetch: unreachable});
  const original = console.error;
  const reported = [];
  console.error = (err) => reported.push(err);
  try {
    client.on("hello", () => { throw new Error("broken handler"); });
    const helloSeen = new Promise((resolve) => client.on("hello", resolve));
    await within(client.connect(), 2000, "synced despite the handler");
    await helloSeen;
  } finally {
    console.error = original;
    client.close();
  }
  assert.equal(reported.length, 1);
  assert.match(String(reported[0]), /broken handler/);
});

test("on events: an error frame is a frame, a dropped stream is EventSource's to retry, a refused one is reopened", async () => {
  const streams = [];
  class FakeEvents {
    constructor(url) { this.url = url; this.readyState = 0; this.listeners = {}; streams.push(this); }
    addEventListener(type, listener) { (this.listeners[type] ??= []).push(listener); }
    close() { this.readyState = 2; }
    serve(type, data) { this.readyState = 1; for (const l of this.listeners[type] ?? []) l({type, data: JSON.stringify(data)}); }
    fail(readyState) { this.readyState = readyState; for (const l of this.listeners.error ?? []) l({type: "error"}); }
  }
  const client = new ChatClient({user: "tia", server: SERVER, transport: "sse", EventSource: FakeEvents, fetch: unreachable,
    backoff: {initial: 5, max: 20, jitter: 0}});
  const errors = [], states = [];
  client.on("error", (frame) => errors.push(frame));
  client.on("status", (s) => states.push(s.state));
  client.connect();
  await until(() => streams.length === 1, "the stream");
  streams[0].serve("hello", {type: "hello", user: "tia", online: ["tia"], last_id: 3});
  streams[0].serve("message", {type: "message", id: 3, from_user: "sam", to_user: null, msg: "hi", ts: "2026-11-21T05:30:00.000Z"});
  streams[0].serve("synced", {type: "synced", last_id: 3, truncated: false});
  streams[0].serve("error", {type: "error", code: "rate_limited", detail: "slow down"});
  assert.deepEqual(errors.map((e) => e.code), ["rate_limited"]);
  assert.equal(client.state, State.LIVE, "an error frame is not a lost connection");

  streams[0].fail(0);  // EventSource reconnects by itself, with Last-Event-ID
  assert.equal(client.state, State.RECONNECTING);
  await sleep(50);
  assert.equal(streams.length, 1, "no second stream of ours meanwhile");

  streams[0].fail(2);  // it gave up (an HTTP error): ours to reopen, with since
  await until(() => streams.length === 2, "a new stream");
  client.close();
  assert.equal(new URL(streams[1].url).searchParams.get("since"), "3");
  assert.deepEqual(states.slice(0, 4), [State.CONNECTING, State.SYNCING, State.LIVE, State.RECONNECTING]);
});

test("on events, a POST lost in the network is tried again; its answer is the acknowledgement", async () => {
  const streams = [];
  class FakeEvents {
    constructor(url) { this.url = url; this.listeners = {}; streams.push(this); }
    addEventListener(type, listener) { (this.listeners[type] ??= []).push(listener); }
    close() {}
    serve(type, data) { for (const l of this.listeners[type] ?? []) l({type, data: JSON.stringify(data)}); }
  }
  const posts = [];
  const fetch = async (url, init) => {
    posts.push({url, init});
    if (posts.length === 1) throw new TypeError("fetch failed");
    const frame = JSON.parse(init.body);
    return {ok: true, status: 201, json: async () => ({type: "message", id: 9, from_user: "rio", to_user: frame.to_user,
      msg: frame.msg, ts: "2026-11-21T05:30:00.000Z", cid: frame.cid})};
  };
  const client = new ChatClient({user: "rio", server: SERVER, token: "tk", transport: "sse", EventSource: FakeEvents, fetch,
    backoff: {initial: 5, max: 20, jitter: 0}});
  const shown = [];
  client.on("message", (m) => shown.push(m.id));
  client.connect();
  await until(() => streams.length === 1, "the stream");
  streams[0].serve("hello", {type: "hello", user: "rio", online: ["rio"], last_id: 8});
  streams[0].serve("synced", {type: "synced", last_id: 8, truncated: false});
  const ack = await within(client.send({to_user: "sol", msg: "over HTTP", cid: "h1"}), 2000, "the POST's answer");
  const sinceBefore = client.lastId;
  streams[0].serve("message", {type: "message", id: 9, from_user: "rio", to_user: "sol", msg: "over HTTP", ts: "2026-11-21T05:30:00.000Z"});
  client.close();
  assert.equal(ack.id, 9);
  assert.equal(posts.length, 2);
  assert.equal(posts[1].url, `${SERVER}/api/messages`);
  assert.equal(posts[1].init.method, "POST");
  assert.equal(posts[1].init.headers.Authorization, "Bearer tk");
  assert.deepEqual(JSON.parse(posts[1].init.body), {to_user: "sol", msg: "over HTTP", cid: "h1"});
  assert.deepEqual(shown, [9], "the answer and the stream's copy are one message");
  assert.equal(sinceBefore, null, "an answer to a POST does not move since");
  assert.equal(client.lastId, 9, "the stream's copy does");
});
