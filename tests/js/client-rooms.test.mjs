// chat-client.js and rooms, against a live `python wsgi.py`: the room API's helpers, sending
// to a room with the acknowledgement by cid, member events as events, and resume with
// `since` counting them.
import assert from "node:assert/strict";
import {test} from "node:test";

import {ChatError, State} from "../../chat/static/chat-client.js";
import {countIds, gatedSockets, liveServer, next, recorder, syncedTimes} from "./live-clients.mjs";
import {sleep, timeout, within} from "./live-server.mjs";

const {clientFor} = liveServer();

const refusal = (code, status) => (err) => err instanceof ChatError && err.code === code && err.status === status;
const memberEvent = (room, user, joined) => (frame) => frame.room === room && frame.user === user && frame.joined === joined;

test("the room helpers create, list, get, join, add, list members and leave", async () => {
  const ada = await clientFor("ada_rm");
  const ben = await clientFor("ben_rm");
  const cal = await clientFor("cal_rm");
  await within(Promise.all([ada.connect(), ben.connect(), cal.connect()]), timeout(10), "all synced");
  const created = await ada.createRoom({name: "Lobby_rm", topic: "say hello"});
  assert.deepEqual(created, {name: "Lobby_rm", private: false, topic: "say hello", created_by: "ada_rm", members: 1, member: true});
  const secret = await ada.createRoom({name: "vault_rm", private: true});
  assert.equal(secret.private, true);

  assert.deepEqual((await ben.room("LOBBY_RM")).member, false, "any spelling; ROOM as ben sees it");
  const benSees = (await ben.rooms()).map((room) => room.name);
  assert.ok(benSees.includes("Lobby_rm") && !benSees.includes("vault_rm"), benSees.join());
  await assert.rejects(ben.room("vault_rm"), refusal("unknown_room", 404), "a private room does not exist for outsiders");
  await assert.rejects(ben.joinRoom("vault_rm"), refusal("unknown_room", 404));
  await assert.rejects(ben.members("vault_rm"), refusal("unknown_room", 404));
  await assert.rejects(ben.history({room: "vault_rm"}), refusal("unknown_room", 404));
  await assert.rejects(ben.createRoom({name: "VAULT_rm"}), refusal("room_exists", 409));
  await assert.rejects(ben.createRoom({name: "no spaces"}), refusal("bad_name", 400));
  await assert.rejects(ben.setTopic("Lobby_rm", "mine"), refusal("not_member", 403));

  assert.equal((await ben.joinRoom("lobby_rm")).members, 2);
  assert.equal((await ben.setTopic("lobby_rm", "ours")).topic, "ours");
  assert.equal((await ada.addMember("vault_rm", "cal_rm")).members, 2);
  assert.equal((await cal.room("vault_rm")).member, true);
  await assert.rejects(ada.addMember("vault_rm", "nobody_ever_rm"), refusal("unknown_user", 404));
  assert.deepEqual(await ada.members("lobby_rm"), [{user: "ada_rm", online: true}, {user: "ben_rm", online: true}]);
  const left = await ben.leaveRoom("lobby_rm");
  assert.deepEqual([left.members, left.member], [1, false]);
});

test("a room message is acknowledged by its cid and reaches the members only; an outsider's is refused", async () => {
  const dee = await clientFor("dee_rm");
  const eve = await clientFor("eve_rm");
  const fin = await clientFor("fin_rm");
  const finLog = recorder(fin);
  await within(Promise.all([dee.connect(), eve.connect(), fin.connect()]), timeout(10), "all synced");
  await dee.createRoom({name: "studio_rm"});
  const eveHearsJoin = next(eve, "member", memberEvent("studio_rm", "eve_rm", true), "eve's own join");
  await eve.joinRoom("studio_rm");
  const [joinEvent, joinInfo] = await eveHearsJoin;
  assert.equal(joinEvent.by, "eve_rm");
  assert.equal(joinInfo.backlog, false);
  assert.equal(eve.lastId, joinEvent.id, "a member event moves lastId");

  const arrives = next(eve, "message", (m) => m.msg === "welcome in", "eve's copy");
  const ack = await within(dee.send({room: "STUDIO_RM", msg: "welcome in", cid: "room-1"}), timeout(10), "the ack");
  assert.deepEqual([ack.cid, ack.room, ack.to_user, ack.from_user], ["room-1", "studio_rm", null, "dee_rm"]);
  const [copy] = await arrives;
  assert.equal(copy.id, ack.id);
  assert.equal(copy.room, "studio_rm");

  await assert.rejects(within(fin.send({room: "studio_rm", msg: "let me in", cid: "room-2"}), timeout(10), "the refusal"),
    (err) => err instanceof ChatError && err.code === "not_member" && err.cid === "room-2");
  await assert.rejects(within(fin.send({room: "nowhere_rm", msg: "hello?", cid: "room-3"}), timeout(10), "the refusal"),
    (err) => err instanceof ChatError && err.code === "unknown_room");
  assert.equal(fin.state, State.LIVE);
  await sleep(200);
  assert.deepEqual(finLog.of("message").filter((m) => m.room), [], "an outsider hears nothing of the room");
  assert.deepEqual(finLog.of("member"), []);
  assert.deepEqual((await eve.history({room: "studio_rm"})).map((m) => m.id), [ack.id]);
});

test("resume with since counts member events: what was missed comes once, in the backlog", async () => {
  const {gate, GatedSocket} = gatedSockets();
  const gus = await clientFor("gus_rm", {WebSocket: GatedSocket, transport: "websocket", backoff: {initial: 50, max: 200, jitter: 0}});
  const hal = await clientFor("hal_rm");
  const log = recorder(gus);
  await within(Promise.all([gus.connect(), hal.connect()]), timeout(10), "both synced");
  const created = next(gus, "member", memberEvent("den_rm", "gus_rm", true), "gus's creation");
  await gus.createRoom({name: "den_rm"});
  const [createdEvent] = await created;
  assert.equal(gus.lastId, createdEvent.id, "the newest event is a member event");

  gate.open = false;
  const lost = next(gus, "status", (s) => s.state === State.RECONNECTING, "gus to notice");
  gate.sockets.at(-1).real.terminate();
  await lost;
  await hal.joinRoom("den_rm");
  const said = await hal.send({room: "den_rm", msg: "you were away"});
  await sleep(100);
  gate.open = true;
  await syncedTimes(log, 2, "gus to sync again");
  await sleep(300);  // anything arriving twice would be here by now

  assert.equal(new URL(gate.urls.at(-1)).searchParams.get("since"), String(createdEvent.id));
  const members = log.filter((e) => e.type === "member");
  assert.ok([...countIds(members.map((e) => e.args[0])).values()].every((n) => n === 1), "no member event twice");
  const halJoined = members.find((e) => memberEvent("den_rm", "hal_rm", true)(e.args[0]));
  assert.ok(halJoined, "hal's join came");
  assert.equal(halJoined.args[1].backlog, true);
  const messages = log.of("message").filter((m) => m.room === "den_rm");
  assert.deepEqual(messages.map((m) => m.id), [said.id]);
  assert.ok(halJoined.args[0].id < said.id);
  assert.equal(gus.lastId, said.id);
});

test("over events, member events come on the stream and room messages go by POST", async () => {
  const ike = await clientFor("ike_rm", {transport: "sse"});
  const jo = await clientFor("jo_rm");
  await within(Promise.all([ike.connect(), jo.connect()]), timeout(15), "both synced");
  assert.equal(ike.transport, "sse");
  await jo.createRoom({name: "porch_rm"});
  const heard = next(ike, "member", memberEvent("porch_rm", "ike_rm", true), "ike's addition");
  await jo.addMember("porch_rm", "ike_rm");
  const [added, info] = await heard;
  assert.deepEqual([added.by, info.transport], ["jo_rm", "sse"]);
  assert.equal(ike.lastId, added.id);

  const up = next(jo, "message", (m) => m.msg === "posted to a room");
  const ack = await within(ike.send({room: "porch_rm", msg: "posted to a room", cid: "post-room"}), timeout(10), "the POST's answer");
  assert.deepEqual([ack.cid, ack.room], ["post-room", "porch_rm"]);
  assert.equal((await up)[0].id, ack.id);
  await assert.rejects(ike.send({room: "nowhere_rm", msg: "hello?"}), refusal("unknown_room", 404));
});
