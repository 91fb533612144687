// The page's rooms: which rooms the sidebar lists, "Browse rooms", "New room", and the
// open room's bar (topic, members with presence, leave, add a person). The timeline and
// the sidebar entries themselves are page.js's: it hands this module the hooks to them.
import {ChatError} from "./chat-client.js";

const $ = (id) => document.getElementById(id);
const keyOf = (name) => name.toLowerCase();

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;  // names and topics are text, never HTML
  if (cls) node.className = cls;
  return node;
}

/** What to tell the person about a refused room request (one place for the wording). */
export function roomErrorText(err, room) {
  if (!(err instanceof ChatError)) return "The server could not be reached: try again.";
  if (err.code === "room_exists") return `The name ${room} is taken: choose another.`;
  if (err.code === "unknown_room") return `There is no room called ${room}.`;
  const detail = err.detail || err.code;
  return detail.charAt(0).toUpperCase() + detail.slice(1) + ".";
}

/**
 * Start the rooms part of the page. `hooks`: addRoom(room) puts a room in the sidebar,
 * dropRoom(name) takes it out, openRoom(name) opens it, isOnline(name) says who is online.
 * Returns {reconcile, show, memberChanged, presence, reach}.
 */
export function startRooms(client, me, hooks) {
  let shown = null;            // the open room: {name, private, members: Map key -> {user, online}}

  function alertIn(id, text) {
    $(id).textContent = text;
  }

  // -- the sidebar's list: the rooms this person is in -------------------------------

  /** Make the sidebar's rooms those the server says this person is in. */
  async function reconcile() {
    let rooms;
    try {
      rooms = await client.rooms();
    } catch (err) {
      return;  // tried again at the next synced
    }
    const mine = rooms.filter((room) => room.member);
    const keep = new Set(mine.map((room) => keyOf(room.name)));
    hooks.roomNames().filter((name) => !keep.has(keyOf(name))).forEach(hooks.dropRoom);
    mine.forEach(hooks.addRoom);
    if (shown && keep.has(keyOf(shown.name))) show(shown.name);
    if ($("browse").open) browse();
  }

  // -- Browse rooms: public rooms not joined, one click to join ------------------------

  async function browse() {
    const list = $("public-rooms");
    alertIn("browse-error", "");
    let rooms;
    try {
      rooms = (await client.rooms()).filter((room) => !room.private && !room.member);
    } catch (err) {
      alertIn("browse-error", roomErrorText(err, ""));
      return;
    }
    list.replaceChildren(...rooms.map(browseItem));
    $("browse-empty").hidden = rooms.length > 0;
  }

  function browseItem(room) {
    const item = el("li", undefined, "public-room");
    item.dataset.room = keyOf(room.name);
    const about = el("div", undefined, "about");
    about.append(el("span", room.name, "name"), el("span", `${room.members} ${room.members === 1 ? "member" : "members"}`, "count"));
    if (room.topic) about.append(el("span", room.topic, "topic"));
    const join = el("button", "Join");
    join.type = "button";
    join.setAttribute("aria-label", `Join ${room.name}`);
    join.addEventListener("click", () => joinAndOpen(room.name, "browse-error"));
    item.append(about, join);
    return item;
  }

  async function joinAndOpen(name, errorId) {
    alertIn(errorId, "");
    try {
      const room = await client.joinRoom(name);
      hooks.addRoom(room);
      hooks.openRoom(room.name);
      if ($("browse").open) browse();
    } catch (err) {
      alertIn(errorId, roomErrorText(err, name));
    }
  }

  $("browse").addEventListener("toggle", () => { if ($("browse").open) browse(); });

  // -- New room ---------------------------------------------------------------------

  $("new-room-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("room-name").value.trim();
    alertIn("new-room-error", "");
    try {
      const room = await client.createRoom({name, private: $("room-private").checked, topic: $("room-topic").value.trim()});
      event.target.reset();
      $("new-room").open = false;
      hooks.addRoom(room);
      hooks.openRoom(room.name);
    } catch (err) {
      alertIn("new-room-error", roomErrorText(err, name));
      $("room-name").focus();
    }
  });

  // -- the open room's bar ----------------------------------------------------------

  /** Show the bar of room `name` (null: no room is open, hide it). */
  async function show(name) {
    $("room-bar").hidden = name === null;
    alertIn("room-bar-error", "");
    if (name === null) { shown = null; return; }
    if (!shown || keyOf(shown.name) !== keyOf(name)) {
      shown = {name, private: false, members: new Map()};
      $("room-topic-text").textContent = "";
      $("add-member").hidden = true;
      renderMembers();
    }
    const target = shown;
    let room, members;
    try {
      [room, members] = await Promise.all([client.room(name), client.members(name)]);
    } catch (err) {
      if (target === shown) alertIn("room-bar-error", roomErrorText(err, name));
      return;
    }
    if (target !== shown) return;  // another room was opened meanwhile
    shown.private = room.private;
    shown.members = new Map(members.map((m) => [keyOf(m.user), m]));
    $("room-topic-text").textContent = room.topic || (room.private ? "A private room" : "A public room");
    $("add-member").hidden = !room.private;
    renderMembers();
  }

  function renderMembers() {
    const members = [...shown.members.values()].sort((a, b) => a.user.localeCompare(b.user));
    $("members").replaceChildren(...members.map((m) => {
      const item = el("li", undefined, m.online ? "member online" : "member");
      item.dataset.user = keyOf(m.user);
      item.append(el("span", undefined, "dot"), el("span", keyOf(m.user) === keyOf(me) ? `${m.user} (you)` : m.user, "name"),
        el("span", m.online ? "online" : "offline", "visually-hidden"));
      return item;
    }));
    $("members-summary").textContent = `Members (${members.length})`;
  }

  /** A member event, live or from a backlog: the open room's list follows it. */
  function memberChanged(frame) {
    if (!shown || keyOf(frame.room) !== keyOf(shown.name)) return;
    const key = keyOf(frame.user);
    if (frame.joined) shown.members.set(key, {user: frame.user, online: hooks.isOnline(frame.user)});
    else shown.members.delete(key);
    renderMembers();
  }

  /** Someone came or went: their dot in the open room's list. */
  function presence(name, isOnline) {
    const member = shown?.members.get(keyOf(name));
    if (!member) return;
    member.online = isOnline;
    renderMembers();
  }

  $("leave-room").addEventListener("click", async () => {
    const name = shown.name;
    alertIn("room-bar-error", "");
    try {
      await client.leaveRoom(name);
      hooks.dropRoom(name);
    } catch (err) {
      alertIn("room-bar-error", roomErrorText(err, name));
    }
  });

  $("add-member").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = shown.name, user = $("add-name").value.trim();
    alertIn("room-bar-error", "");
    try {
      await client.addMember(name, user);
      event.target.reset();
    } catch (err) {
      alertIn("room-bar-error", err.code === "unknown_user" ? `Nobody called ${user} has logged in.` : roomErrorText(err, name));
    }
  });

  // -- a room by its address: /#room/<name> -------------------------------------------

  /** Open room `name` if this person is in it; otherwise say why not (and offer to join a public one). */
  async function reach(name) {
    const alert = $("room-alert");
    alert.replaceChildren();
    let room;
    try {
      room = await client.room(name);
    } catch (err) {
      alert.textContent = roomErrorText(err, name);
      return;
    }
    if (room.member) { hooks.addRoom(room); hooks.openRoom(room.name); return; }
    const join = el("button", `Join ${room.name}`);
    join.type = "button";
    join.addEventListener("click", () => joinAndOpen(room.name, "room-alert"));
    alert.append(`You are not in ${room.name}. `, join);
  }

  return {reconcile, show, memberChanged, presence, reach};
}
