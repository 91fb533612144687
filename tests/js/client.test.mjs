// chat-client.js against a live `python wsgi.py`: the socket, resume, acknowledgements,
// resend and the events fallback. Run with `node --test tests/js/` (make test does, through
// tests/live/test_js_client.py). Rooms are in client-rooms.test.mjs.
import assert from "node:assert/strict";
import {test} from "node:test";

import {ChatError, State} from "../../chat/static/chat-client.js";
import {countIds, gatedSockets, liveServer, next, recorder, syncedTimes} from "./live-clients.mjs";
import {sleep, timeout, within} from "./live-server.mjs";

const live = liveServer();
const {clientFor, tokenOf} = live;

test("connect() goes through hello and the backlog to synced, and resolves with synced", async () => {
  const ann = await clientFor("ann_js");
  const log = recorder(ann);
  const synced = await within(ann.connect(), timeout(10), "synced");
  assert.equal(synced.type, "synced");
  assert.equal(ann.state, State.LIVE);
  assert.equal(ann.transport, "websocket");
  const [hello] = log.of("hello");
  assert.equal(hello.user, "ann_js");
  assert.ok(hello.online.includes("ann_js"));
  assert.ok(Number.isInteger(hello.last_id));
  assert.deepEqual(log.filter((e) => ["hello", "synced"].includes(e.type)).map((e) => e.type), ["hello", "synced"]);
  assert.deepEqual(log.of("status").map((s) => s.state), [State.CONNECTING, State.SYNCING, State.LIVE]);
  assert.equal(await ann.connect(), synced, "a second connect() is the same first synced");
});

test("a direct message reaches its recipient; the sender's send resolves with the acknowledgement", async () => {
  const amy = await clientFor("amy_js");
  const bo = await clientFor("bo_js");
  const amyLog = recorder(amy);
  await within(Promise.all([amy.connect(), bo.connect()]), timeout(10), "both synced");
  const arrives = next(bo, "message", (m) => m.msg === "hi bo, just you", "bo's copy");
  const ack = await within(amy.send({to_user: "bo_js", msg: "hi bo, just you", cid: "dm-1"}), timeout(10), "the ack");
  assert.equal(ack.cid, "dm-1");
  assert.equal(ack.from_user, "amy_js");
  assert.equal(ack.to_user, "bo_js");
  assert.ok(Number.isInteger(ack.id));
  const [copy, info] = await arrives;
  assert.equal(copy.id, ack.id);
  assert.equal(copy.from_user, "amy_js");
  assert.equal(copy.cid, undefined, "only the sender's copy carries the cid");
  assert.equal(info.backlog, false);
  assert.equal(amyLog.of("message").filter((m) => m.id === ack.id).length, 1);
  assert.deepEqual(amy.pending, []);
  assert.equal(amy.lastId, ack.id);
});

test("a refused message rejects with the error frame's code and cid; the connection stays", async () => {
  const cy = await clientFor("cy_js");
  const log = recorder(cy);
  await within(cy.connect(), timeout(10), "synced");
  await assert.rejects(within(cy.send({to_user: "nobody_ever_js", msg: "hello?", cid: "bad-1"}), timeout(10), "the refusal"),
    (err) => err instanceof ChatError && err.code === "unknown_user" && err.cid === "bad-1");
  await assert.rejects(within(cy.send({msg: "x".repeat(4001), cid: "bad-2"}), timeout(10), "the refusal"),
    (err) => err instanceof ChatError && err.code === "too_long" && err.cid === "bad-2");
  assert.deepEqual(log.of("error").map((e) => [e.code, e.cid]), [["unknown_user", "bad-1"], ["too_long", "bad-2"]]);
  assert.equal(cy.state, State.LIVE);
  const ack = await within(cy.send({to_user: "cy_js", msg: "still here", cid: "ok-1"}), timeout(10), "a later ack");
  assert.equal(ack.msg, "still here");
  assert.deepEqual(cy.pending, []);
});

test("after a reconnect, since brings the messages missed while away, each exactly once", async () => {
  const {gate, GatedSocket} = gatedSockets();
  const rex = await clientFor("rex_js", {WebSocket: GatedSocket, transport: "websocket", backoff: {initial: 50, max: 200, jitter: 0}});
  const wes = await clientFor("wes_js");
  const log = recorder(rex);
  await within(Promise.all([rex.connect(), wes.connect()]), timeout(10), "both synced");
  const early = next(rex, "message", (m) => m.msg === "before the cut");
  await wes.send({to_user: "rex_js", msg: "before the cut"});
  await early;
  const since = rex.lastId;

  gate.open = false;
  const lost = next(rex, "status", (s) => s.state === State.RECONNECTING, "rex to notice");
  gate.sockets.at(-1).real.terminate();
  await lost;
  const missed = [];
  for (const i of [1, 2, 3]) missed.push((await wes.send({to_user: "rex_js", msg: `missed ${i}`})).id);
  await sleep(100);  // an attempt or two fails at the gate meanwhile
  gate.open = true;
  await syncedTimes(log, 2, "rex to sync again");
  await sleep(300);  // anything arriving twice would be here by now

  const url = new URL(gate.urls.at(-1));
  assert.equal(url.searchParams.get("since"), String(since));
  const messages = log.of("message");
  const infos = log.filter((e) => e.type === "message").map((e) => e.args[1]);
  assert.ok([...countIds(messages).values()].every((n) => n === 1), "no message twice");
  assert.deepEqual(messages.map((m) => m.msg).filter((t) => t.startsWith("missed")), ["missed 1", "missed 2", "missed 3"]);
  assert.deepEqual(messages.filter((m) => missed.includes(m.id)).map((m) => m.id), missed);
  assert.ok(messages.map((m, i) => [m, infos[i]]).filter(([m]) => missed.includes(m.id)).every(([, info]) => info.backlog),
    "the missed messages came in the backlog");
  assert.equal(messages.filter((m) => m.msg === "before the cut").length, 1);
  assert.equal(rex.lastId, missed.at(-1));
});

test("a message whose acknowledgement was lost is sent again after the reconnect and stored once", async () => {
  const {gate, GatedSocket} = gatedSockets();
  const sid = await clientFor("sid_js", {WebSocket: GatedSocket, transport: "websocket", backoff: {initial: 50, max: 200, jitter: 0}});
  const tam = await clientFor("tam_js");
  const sidLog = recorder(sid), tamLog = recorder(tam);
  await within(Promise.all([sid.connect(), tam.connect()]), timeout(10), "both synced");

  // The server stores it and acknowledges; the connection dies before the ack arrives.
  gate.sockets.at(-1).deafUntil = (frame) => frame.cid === "again-1";
  const ack = await within(sid.send({to_user: "tam_js", msg: "sent twice, stored once", cid: "again-1"}), timeout(15),
    "the ack after the reconnect");
  await syncedTimes(sidLog, 2, "sid to sync again");
  await sleep(300);

  assert.equal(gate.sent.filter((frame) => frame.cid === "again-1").length, 2, "sent again after the reconnect");
  assert.equal(ack.cid, "again-1");
  const tamCopies = tamLog.of("message").filter((m) => m.msg === "sent twice, stored once");
  assert.deepEqual(tamCopies.map((m) => m.id), [ack.id], "the recipient got it once");
  assert.equal(sidLog.of("message").filter((m) => m.id === ack.id).length, 1, "the sender shows it once");
  const history = await live.server().get("/api/messages?with=tam_js", await tokenOf("sid_js"));
  assert.equal(history.messages.filter((m) => m.msg === "sent twice, stored once").length, 1, "stored once");
  assert.deepEqual(sid.pending, []);
});

test("a message sent while disconnected waits, then goes once the client is back", async () => {
  const {gate, GatedSocket} = gatedSockets();
  const ula = await clientFor("ula_js", {WebSocket: GatedSocket, transport: "websocket", backoff: {initial: 50, max: 200, jitter: 0}});
  const vic = await clientFor("vic_js");
  await within(Promise.all([ula.connect(), vic.connect()]), timeout(10), "both synced");
  gate.open = false;
  const lost = next(ula, "status", (s) => s.state === State.RECONNECTING, "ula to notice");
  gate.sockets.at(-1).real.terminate();
  await lost;
  const sent = ula.send({to_user: "vic_js", msg: "written offline", cid: "off-1"});
  assert.deepEqual(ula.pending.map((f) => f.cid), ["off-1"]);
  const arrives = next(vic, "message", (m) => m.msg === "written offline");
  gate.open = true;
  const ack = await within(sent, timeout(15), "the ack once back");
  const [copy] = await arrives;
  assert.equal(copy.id, ack.id);
  assert.equal(gate.sent.filter((frame) => frame.cid === "off-1").length, 1);
});

/** A WebSocket that a proxy cuts before the server can say hello. */
class CutSocket {
  constructor() {
    this.readyState = 0;
    setTimeout(() => { this.readyState = 3; this.onclose?.({code: 1006, reason: ""}); }, 5);
  }
  send() { throw new Error("never open"); }
  close() {}
}

test("with sockets cut before their hello, the client uses events and POST, both ways", async () => {
  const eli = await clientFor("eli_js", {WebSocket: CutSocket, backoff: {initial: 20, max: 100, jitter: 0}});
  const fox = await clientFor("fox_js");
  const log = recorder(eli);
  await within(Promise.all([eli.connect(), fox.connect()]), timeout(15), "synced over events");
  assert.equal(eli.transport, "sse");
  assert.equal(eli.state, State.LIVE);
  const states = log.of("status").map((s) => `${s.state}/${s.transport}`);
  assert.deepEqual(states.slice(-3), ["connecting/sse", "syncing/sse", "live/sse"]);
  assert.equal(states.filter((s) => s === "reconnecting/websocket").length, 2, "two sockets cut, then events");

  const down = next(eli, "message", (m) => m.msg === "reaches eli by SSE");
  await fox.send({to_user: "eli_js", msg: "reaches eli by SSE"});
  const [received, info] = await down;
  assert.equal(received.from_user, "fox_js");
  assert.equal(info.transport, "sse");

  const up = next(fox, "message", (m) => m.msg === "answered by POST");
  const ack = await within(eli.send({to_user: "fox_js", msg: "answered by POST", cid: "post-1"}), timeout(10), "the POST's answer");
  assert.equal(ack.cid, "post-1");
  assert.equal((await up)[0].id, ack.id);
  await sleep(300);  // the stream's copy of it too
  assert.equal(log.of("message").filter((m) => m.id === ack.id).length, 1, "the answer and the stream's copy count once");

  await assert.rejects(eli.send({to_user: "nobody_ever_js", msg: "hello?", cid: "post-bad"}),
    (err) => err instanceof ChatError && err.code === "unknown_user" && err.status === 404 && err.cid === "post-bad");
});

test("history and who is online, over HTTP with the token", async () => {
  const gia = await clientFor("gia_js");
  const hal = await clientFor("hal_js");
  await within(Promise.all([gia.connect(), hal.connect()]), timeout(10), "both synced");
  const ids = [];
  for (const i of [1, 2, 3]) ids.push((await gia.send({to_user: "hal_js", msg: `page ${i}`})).id);
  assert.deepEqual((await hal.history({with: "gia_js"})).map((m) => m.id), ids);
  assert.deepEqual((await hal.history({with: "gia_js", before: ids[2], limit: 1})).map((m) => m.id), [ids[1]]);
  const online = await gia.fetchOnline();
  assert.ok(online.includes("gia_js") && online.includes("hal_js"));
  await assert.rejects(gia.history({with: "nobody_ever_js"}), (err) => err.code === "unknown_user" && err.status === 404);
});

test("a closed client refuses to send", async () => {
  const ivy = await clientFor("ivy_js", {transport: "websocket"});
  await within(ivy.connect(), timeout(10), "synced");
  ivy.close();
  assert.equal(ivy.state, State.CLOSED);
  await assert.rejects(ivy.send({msg: "too late"}), (err) => err.code === "closed");
});
