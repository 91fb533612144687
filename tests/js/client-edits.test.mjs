// chat-client.js and the conversation state, against a live `python wsgi.py`: edits and
// deletes acknowledged and heard by the peer, history serving messages as they are now,
// typing notices relayed to the peer (and to nobody else).
import assert from "node:assert/strict";
import {test} from "node:test";

import {ChatError, conversationOf} from "../../chat/static/chat-client.js";
import {liveServer, next, recorder} from "./live-clients.mjs";
import {sleep, timeout, within} from "./live-server.mjs";

const {clientFor} = liveServer();

test("an edit and a delete are acknowledged, reach the peer once, and history serves the message as it is now", async () => {
  const kim = await clientFor("kim_ed");
  const lou = await clientFor("lou_ed");
  const louLog = recorder(lou);
  await within(Promise.all([kim.connect(), lou.connect()]), timeout(10), "both synced");
  const original = await within(kim.send({to_user: "lou_ed", msg: "helo"}), timeout(10), "the message's ack");

  const heardEdit = next(lou, "edit", (e) => e.of === original.id, "lou's edit event");
  const edit = await within(kim.edit(original.id, "hello", {cid: "ed-1"}), timeout(10), "the edit's ack");
  assert.deepEqual([edit.type, edit.of, edit.msg, edit.cid], ["edit", original.id, "hello", "ed-1"]);
  const [louEdit, info] = await heardEdit;
  assert.deepEqual([louEdit.id, info.backlog], [edit.id, false]);
  assert.deepEqual(conversationOf(louEdit, "lou_ed"), {with: "kim_ed"});
  let [current] = await lou.history({with: "kim_ed"});
  assert.deepEqual([current.msg, current.edited], ["hello", edit.ts]);

  await assert.rejects(within(lou.delete(original.id, {cid: "ed-2"}), timeout(10), "the refusal"),
    (err) => err instanceof ChatError && err.code === "forbidden" && err.cid === "ed-2");
  const heardDelete = next(lou, "delete", (e) => e.of === original.id, "lou's delete event");
  const deleted = await within(kim.delete(original.id), timeout(10), "the delete's ack");
  assert.equal((await heardDelete)[0].id, deleted.id);
  [current] = await lou.history({with: "kim_ed"});
  assert.deepEqual([current.msg, current.deleted], ["", true]);
  await assert.rejects(within(kim.edit(original.id, "too late"), timeout(10), "the refusal"),
    (err) => err instanceof ChatError && err.code === "not_found");
  await sleep(100);
  assert.equal(louLog.of("edit").length + louLog.of("delete").length, 2, "each event once");
  assert.equal(lou.lastId, deleted.id);
});

test("a typing notice reaches the peer, named as their conversation, and not the sender's other client", async () => {
  const max = await clientFor("max_ed");
  const maxOther = await clientFor("max_ed");
  const ned = await clientFor("ned_ed");
  const otherLog = recorder(maxOther);
  await within(Promise.all([max.connect(), maxOther.connect(), ned.connect()]), timeout(10), "all synced");
  const sinceBefore = ned.lastId;
  const heard = next(ned, "typing", (f) => f.user === "max_ed", "ned's typing event");
  assert.equal(max.typing({with: "NED_ED"}), true);
  const [frame] = await heard;
  assert.deepEqual(conversationOf(frame, "ned_ed"), {with: "max_ed"});
  assert.equal(max.typing({with: "ned_ed"}), false, "throttled in the client");
  await sleep(200);
  assert.deepEqual(otherLog.of("typing"), []);
  assert.equal(ned.lastId, sinceBefore, "a notice takes no id");
});

test("over events, edit, delete and typing go by HTTP and the peer hears each", async () => {
  const oli = await clientFor("oli_ed", {transport: "sse"});
  const pat = await clientFor("pat_ed");
  await within(Promise.all([oli.connect(), pat.connect()]), timeout(15), "both synced");
  assert.equal(oli.transport, "sse");
  const original = await within(oli.send({to_user: "pat_ed", msg: "by post"}), timeout(10), "the POST's answer");
  const heardTyping = next(pat, "typing", (f) => f.user === "oli_ed", "pat's typing event");
  assert.equal(oli.typing({with: "pat_ed"}), true);
  assert.deepEqual(conversationOf((await heardTyping)[0], "pat_ed"), {with: "oli_ed"});

  const heardEdit = next(pat, "edit", (e) => e.of === original.id, "pat's edit event");
  const edit = await within(oli.edit(original.id, "by patch", {cid: "sse-e"}), timeout(10), "the PATCH's answer");
  assert.deepEqual([edit.type, edit.msg, edit.cid], ["edit", "by patch", "sse-e"]);
  assert.equal((await heardEdit)[0].id, edit.id);
  const heardDelete = next(pat, "delete", (e) => e.of === original.id, "pat's delete event");
  const deleted = await within(oli.delete(original.id, {cid: "sse-d"}), timeout(10), "the DELETE's answer");
  assert.deepEqual([deleted.type, deleted.cid], ["delete", "sse-d"]);
  assert.equal((await heardDelete)[0].id, deleted.id);
  await assert.rejects(within(oli.delete(original.id), timeout(10), "the refusal"),
    (err) => err instanceof ChatError && err.code === "not_found" && err.status === 404);
});
