// chat-client.js's conversation state without a server: edits and deletes acknowledged by
// cid and emitted once per id, typing notices throttled per conversation, conversationOf.
// Fake transports stand in, as in client-unit.test.mjs.
import assert from "node:assert/strict";
import {test} from "node:test";

import {ChatClient, ChatError, conversationOf, State} from "../../chat/static/chat-client.js";
import {HELLO, SERVER, SYNCED, socketClient} from "./fake-socket.mjs";
import {sleep, within} from "./live-server.mjs";

const TS = "2026-11-21T05:30:00.000Z";

/** A client on a fake socket that greets and syncs; `socket.serve(frame)` plays a server frame. */
async function liveClient(options = {}) {
  const {client, sockets} = socketClient({fetch: async () => { throw new TypeError("no"); }, ...options});
  await within(client.connect(), 2000, "synced");
  return {client, socket: sockets[0]};
}

function events(client, ...types) {
  const log = [];
  for (const type of types) client.on(type, (...args) => log.push([type, ...args]));
  return log;
}

test("edit() and delete() send their frames and resolve with the event carrying their cid", async () => {
  const {client, socket} = await liveClient();
  const log = events(client, "edit", "delete", "message");
  const edited = client.edit(41, "fixed", {cid: "e1"});
  const deleted = client.delete(41);
  const [editFrame, deleteFrame] = socket.sent;
  assert.deepEqual(editFrame, {type: "edit", id: 41, msg: "fixed", cid: "e1"});
  assert.equal(deleteFrame.type, "delete");
  assert.equal(deleteFrame.id, 41);
  assert.ok(deleteFrame.cid, "a cid is made for a delete too");
  const editEvent = {type: "edit", id: 42, of: 41, from_user: "vi", to_user: "jo", msg: "fixed", ts: TS, cid: "e1"};
  socket.serve(editEvent);
  socket.serve({...editEvent, cid: undefined});  // a second copy (another tab's) is not a second event
  const deleteEvent = {type: "delete", id: 43, of: 41, from_user: "vi", to_user: "jo", ts: TS, cid: deleteFrame.cid};
  socket.serve(deleteEvent);
  assert.deepEqual(await edited, editEvent);
  assert.deepEqual(await deleted, deleteEvent);
  assert.deepEqual(log.map(([type, frame, info]) => [type, frame.id, info.backlog]), [["edit", 42, false], ["delete", 43, false]]);
  assert.equal(client.lastId, 43, "edits and deletes move since");
  assert.deepEqual(client.pending, []);
  client.close();
});

test("a refused edit rejects with the error's code; the client stays live", async () => {
  const {client, socket} = await liveClient();
  const edited = client.edit(7, "not mine", {cid: "e2"});
  socket.serve({type: "error", code: "forbidden", detail: "only the sender may change a message", cid: "e2"});
  await assert.rejects(edited, (err) => err instanceof ChatError && err.code === "forbidden" && err.cid === "e2");
  assert.equal(client.state, State.LIVE);
  client.close();
});

test("typing goes out at most once per interval and conversation, and only when live", async () => {
  const {client, socket} = await liveClient({typingInterval: 100});
  assert.equal(client.typing({with: "jo"}), true);
  assert.equal(client.typing({with: "JO"}), false, "the same conversation in another spelling");
  assert.equal(client.typing({room: "den"}), true, "another conversation has its own interval");
  assert.equal(client.typing({with: "*"}), true);
  await sleep(120);
  assert.equal(client.typing({with: "jo"}), true);
  assert.deepEqual(socket.sent, [
    {type: "typing", with: "jo"}, {type: "typing", room: "den"}, {type: "typing", with: "*"}, {type: "typing", with: "jo"}]);
  client.close();
  assert.equal(client.typing({with: "jo"}), false, "nothing once closed");
});

test("typing frames are events; they are not stored and do not move since", async () => {
  const {client, socket} = await liveClient();
  const log = events(client, "typing");
  const frame = {type: "typing", user: "jo", with: "vi"};
  socket.serve(frame);
  assert.deepEqual(log, [["typing", frame]]);
  assert.equal(client.lastId, null);
  client.close();
});

test("over events, edits go by PATCH, deletes by DELETE, typing by POST /api/typing", async () => {
  const streams = [];
  class FakeEvents {
    constructor(url) { this.url = url; this.listeners = {}; streams.push(this); }
    addEventListener(type, listener) { (this.listeners[type] ??= []).push(listener); }
    close() {}
    serve(data) { for (const l of this.listeners[data.type] ?? []) l({type: data.type, data: JSON.stringify(data)}); }
  }
  const requests = [];
  const fetch = async (url, init) => {
    const body = init.body ? JSON.parse(init.body) : undefined;
    requests.push({url, method: init.method, body});
    if (url.endsWith("/api/typing")) return {ok: true, status: 204, json: async () => { throw new SyntaxError("empty"); }};
    const type = init.method === "PATCH" ? "edit" : "delete";
    return {ok: true, status: 200, json: async () => ({type, id: 50, of: 41, from_user: "vi", to_user: null, ts: TS, ...body})};
  };
  const client = new ChatClient({user: "vi", server: SERVER, transport: "sse", EventSource: FakeEvents, fetch});
  client.connect();
  await sleep(0);
  streams[0].serve(HELLO);
  streams[0].serve(SYNCED);
  const edit = await within(client.edit(41, "over HTTP", {cid: "p1"}), 2000, "the PATCH's answer");
  assert.equal(edit.type, "edit");
  await within(client.delete(41, {cid: "p2"}), 2000, "the DELETE's answer");
  assert.equal(client.typing({room: "den"}), true);
  await sleep(10);
  assert.deepEqual(requests.map((r) => [r.method, r.url.slice(SERVER.length), r.body]), [
    ["PATCH", "/api/messages/41", {msg: "over HTTP", cid: "p1"}],
    ["DELETE", "/api/messages/41", {cid: "p2"}],
    ["POST", "/api/typing", {room: "den"}],
  ]);
  client.close();
});

test("conversationOf names the conversation of a message, an edit or a typing frame as the user sees it", () => {
  const dm = {type: "message", from_user: "Jo", to_user: "vi", room: null};
  assert.deepEqual(conversationOf(dm, "VI"), {with: "Jo"});
  assert.deepEqual(conversationOf({...dm, from_user: "vi", to_user: "Jo"}, "vi"), {with: "Jo"});
  assert.deepEqual(conversationOf({type: "edit", from_user: "Jo", to_user: null}, "vi"), {with: "*"});
  assert.deepEqual(conversationOf({type: "delete", from_user: "Jo", to_user: null, room: "den"}, "vi"), {room: "den"});
  assert.deepEqual(conversationOf({type: "typing", user: "Jo", with: "vi"}, "Vi"), {with: "Jo"}, "a direct notice names me");
  assert.deepEqual(conversationOf({type: "typing", user: "Jo", with: "*"}, "vi"), {with: "*"});
  assert.deepEqual(conversationOf({type: "typing", user: "Jo", room: "den"}, "vi"), {room: "den"});
});

test("searchUsers asks GET /api/users?q= with the prefix and answers its users", async () => {
  const asked = [];
  const fetch = async (url, init) => {
    asked.push({url, init});
    return {ok: true, status: 200, json: async () => ({users: [{user: "Jo", online: false}, {user: "joan", online: true}]})};
  };
  const client = new ChatClient({user: "vi", server: SERVER, token: "tk", WebSocket: class {}, fetch});
  assert.deepEqual(await client.searchUsers("jo&x", {limit: 20}), [{user: "Jo", online: false}, {user: "joan", online: true}]);
  const url = new URL(asked[0].url);
  assert.deepEqual([url.pathname, url.searchParams.get("q"), url.searchParams.get("limit")], ["/api/users", "jo&x", "20"]);
  assert.equal(asked[0].init.headers.Authorization, "Bearer tk");
});
