// chat-client.js's read markers without a server: markRead() over a socket and over events
// (POST /api/read), the `read` event, fetchConversations(), conversationOf for read frames.
import assert from "node:assert/strict";
import {test} from "node:test";

import {ChatClient, ChatError, conversationOf, State} from "../../chat/static/chat-client.js";
import {HELLO, SERVER, SYNCED, socketClient} from "./fake-socket.mjs";
import {within} from "./live-server.mjs";

/** A fetch that records its requests and answers `answer(path, init)` ({status, body}). */
function recordingFetch(answer) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const path = new URL(url).pathname;
    calls.push({path, method: init.method, body: init.body ? JSON.parse(init.body) : undefined, headers: init.headers});
    const {status = 200, body = {}} = answer(path, init);
    return {ok: status < 400, status, statusText: "", json: async () => body};
  };
  return {calls, fetch};
}

test("markRead() sends the read frame when live, nothing before; read frames are `read` events", async () => {
  const {client, sockets} = socketClient({fetch: async () => { throw new TypeError("no"); }});
  assert.equal(await client.markRead({with: "jo", up_to: 3}), null, "not live yet: nothing kept for later");
  await within(client.connect(), 2000, "synced");
  const socket = sockets[0];
  assert.deepEqual(socket.sent, []);
  await client.markRead({with: "jo", up_to: 41});
  await client.markRead({room: "den", up_to: 42});
  await client.markRead({up_to: 43});
  assert.deepEqual(socket.sent, [
    {type: "read", with: "jo", up_to: 41},
    {type: "read", room: "den", up_to: 42},
    {type: "read", with: "*", up_to: 43},
  ]);
  const heard = [];
  client.on("read", (frame) => heard.push(frame));
  const fromPeer = {type: "read", user: "jo", with: "vi", up_to: 41};
  const mine = {type: "read", user: "vi", with: "jo", up_to: 41};
  socket.serve(fromPeer);
  socket.serve(mine);
  assert.deepEqual(heard, [fromPeer, mine]);
  assert.equal(client.lastId, null, "read frames take no id and do not move since");
  assert.deepEqual(conversationOf(fromPeer, "vi"), {with: "jo"}, "the peer's marker: the conversation with the peer");
  assert.deepEqual(conversationOf(mine, "VI"), {with: "jo"});
  assert.deepEqual(conversationOf({type: "read", user: "vi", room: "den", up_to: 1}, "vi"), {room: "den"});
  assert.deepEqual(conversationOf({type: "read", user: "vi", with: "*", up_to: 1}, "vi"), {with: "*"});
  client.close();
  assert.equal(await client.markRead({with: "jo", up_to: 44}), null, "nothing once closed");
  assert.equal(socket.sent.length, 3);
});

test("over events markRead() is POST /api/read with the token; a refusal is a ChatError", async () => {
  const streams = [];
  class FakeEvents {
    constructor(url) {
      this.url = url;
      this.readyState = 1;
      this.listeners = new Map();
      streams.push(this);
      setTimeout(() => { this.serve("hello", HELLO); this.serve("synced", SYNCED); }, 0);
    }
    addEventListener(type, handler) { this.listeners.set(type, handler); }
    serve(type, frame) { this.listeners.get(type)?.({data: JSON.stringify(frame)}); }
    close() { this.readyState = 2; }
  }
  const {calls, fetch} = recordingFetch((path, init) => (init.body && JSON.parse(init.body).with === "nobody"
    ? {status: 404, body: {error: {code: "unknown_user", detail: "no such user"}}}
    : {body: {up_to: 41}}));
  const client = new ChatClient({user: "vi", server: SERVER, token: "t0k", transport: "sse", EventSource: FakeEvents, fetch});
  await within(client.connect(), 2000, "synced");
  assert.equal(client.state, State.LIVE);
  assert.deepEqual(await client.markRead({with: "jo", up_to: 41}), {up_to: 41});
  assert.deepEqual(calls.map(({path, method, body}) => [path, method, body]), [["/api/read", "POST", {with: "jo", up_to: 41}]]);
  assert.equal(calls[0].headers.Authorization, "Bearer t0k");
  await assert.rejects(client.markRead({with: "nobody", up_to: 1}),
    (err) => err instanceof ChatError && err.code === "unknown_user" && err.status === 404);
  client.close();
});

test("fetchConversations() answers GET /api/conversations' list", async () => {
  const listing = [{with: "jo", last_id: 9, read_up_to: 7, unread: 2, peer_read_up_to: 9}, {room: "den", last_id: 3, read_up_to: 3, unread: 0}];
  const {calls, fetch} = recordingFetch(() => ({body: {conversations: listing}}));
  const {client} = socketClient({fetch});
  assert.deepEqual(await client.fetchConversations(), listing);
  assert.deepEqual(calls.map(({path, method}) => [path, method]), [["/api/conversations", "GET"]]);
});
