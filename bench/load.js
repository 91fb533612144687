// The load generator of `make bench`: one Node process on its own core, with a lean
// WebSocket client of its own (`Client`).
//
//   node bench/load.js '{"url": "ws://127.0.0.1:PORT", "scenario": "direct", ...}'
//
// Scenarios (the options below are their defaults):
//   idle    {n: 2000, limit_s: 30, parse: true}  connect n users, report the time, hold them until
//                                           stdin says "close" (the runner reads memory meanwhile);
//                                           each client JSON-parses every frame it receives;
//                                           past limit_s it reports how many it connected instead;
//                                           at "close", the presence frames they had received
//   direct  {users: 200, senders: 50, inflight: 8, seconds: 5}
//   paced   {users: 200, senders: 50, rate: (required), seconds: 5, grace_s: 3}
//                                           direct messages sent at a fixed rate (open loop)
//   group   {users: 500, senders: 4, inflight: 1, seconds: 5}
//   stall   {pairs: 20, seconds: 3, bytes: 65536}   small round trips with and without 64 KiB messages
//   rooms   {rooms: 20, size: 500, big: 10000, senders: 4, inflight: 1, seconds: 5, join: "api"}
//                                           `rooms` rooms of `size` members and one of `big`
//                                           (see `roomPlan`); a run with a sender in each small
//                                           room at once, then one with `senders` in the big
//                                           room. join "api": members log in and join through
//                                           the chat server's HTTP API before connecting;
//                                           "query": each names its rooms in ?rooms= (the baseline)
// Each prints one JSON line of results, with the share of its own core the generator used
// (near 1.0 would mean the generator, not the server, set the pace), after a line
// {"phase": "measuring"} and one {"phase": "measured"} around each window it measures.
'use strict';

const crypto = require('crypto');
const http = require('http');
const net = require('net');
const { performance } = require('perf_hooks');
const readline = require('readline');

const opts = JSON.parse(process.argv[2]);
const now = () => performance.now(); // milliseconds
const RUN = Date.now().toString(36); // in every cid: a server keeps cids, and a second run reuses keys
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'; // RFC 6455's handshake constant

// What a frame is searched for, as bytes: a string needle is encoded again on every search.
const MSG_FIELD = Buffer.from('"msg":');
const CID_FIELD = Buffer.from('"cid"');
const CID_WITHIN = 64; // every server puts the sender's cid last, and `"cid": "<run>.<key>"}` is under 40 bytes
const [MESSAGE, HELLO, PRESENCE] = ['m', 'h', 'p'].map((letter) => letter.charCodeAt(0));
const MEMBER = -1; // not a letter: see `kindOf`
// Presence frames received by every client (only counted: the idle scenario reports them,
// to show what the servers pushed while a crowd connected).
let presenceFrames = 0;
// Whether clients parse every frame they receive, as the page does (the idle scenario's
// crowd: what a greeting and the presence pushes cost a real client is part of connecting).
// The other scenarios measure the servers' message rates, where parsing each delivery
// would make the generator the bottleneck.
let parseEvery = false;

function kindOf(data) {
  // The first letter of a server frame's type: each of them starts {"type":"<type>", or
  // {"type": "<type>" from json.dumps. A room's `member` frame, which starts like
  // `message`, is told by its third letter and counts as MEMBER.
  let at = 8;
  while (data[at] === 0x20) at += 1;
  return data[at + 1] === MESSAGE && data[at + 3] === MESSAGE ? MEMBER : data[at + 1];
}

function keyOf(data) {
  // The key a message body starts with (see `text`), read from the frame's bytes.
  let start = data.indexOf(MSG_FIELD) + 6;
  while (data[start] !== 0x22) start += 1; // the opening quote, after any space
  const bar = data.indexOf(0x7c, start);
  return bar < 0 ? '' : data.toString('latin1', start + 1, bar);
}

// A WebSocket client that does only what the scenarios need (RFC 6455 without extensions).
// The `ws` package spent more of the generator's core per frame than the servers did per
// delivery, which made it the bottleneck of the group scenario.
class Client {
  constructor(name, socket) {
    this.name = name;
    this.socket = socket;
    this.onDelivery = null; // (key) for each `message` frame without the sender's `cid`
    this.onText = null; // (frame) for every other frame but hello and presence
    this.errors = 0;
    this.pending = null; // the start of a frame not yet whole
    this.parts = []; // the fragments of a message not yet whole
    socket.setNoDelay(true);
  }

  received(chunk) {
    // `chunk` lives in the read buffer all sockets share (see `connect`): what is kept
    // past this call (a frame's start, a fragment) is copied.
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    while (buf.length - at >= 2) {
      let length = buf[at + 1] & 0x7f;
      let head = 2;
      if (length === 126) {
        if (buf.length - at < 4) break;
        length = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (length === 127) {
        if (buf.length - at < 10) break;
        length = Number(buf.readBigUInt64BE(at + 2));
        head = 10;
      }
      if (buf.length - at < head + length) break;
      this.frame(buf[at] & 0x80, buf[at] & 0x0f, buf.subarray(at + head, at + head + length));
      at += head + length;
    }
    this.pending = at < buf.length ? Buffer.from(buf.subarray(at)) : null;
  }

  frame(fin, opcode, payload) {
    if (opcode === 0x9) this.sendFrame(0xa, payload); // ping: pong
    else if (opcode === 0x8) this.socket.end(); // close
    else if (opcode === 0x1 || opcode === 0x0) {
      if (!fin) {
        this.parts.push(Buffer.from(payload));
        return;
      }
      this.parts.push(payload);
      const data = this.parts.length === 1 ? payload : Buffer.concat(this.parts);
      this.parts = [];
      this.text(data);
    }
  }

  text(data) {
    // Outside the crowd (parseEvery), hello and presence matter to no scenario, and a
    // delivery is recognised from its bytes, not parsed.
    const parsed = parseEvery ? JSON.parse(data) : null;
    const kind = kindOf(data);
    if (kind === PRESENCE) presenceFrames += 1;
    if (kind === HELLO || kind === PRESENCE || kind === MEMBER) return; // member: the joins, in a backlog
    if (kind === MESSAGE) {
      const own = data.indexOf(CID_FIELD, Math.max(0, data.length - CID_WITHIN)) >= 0;
      if (!own && this.onDelivery) this.onDelivery(keyOf(data));
      return;
    }
    const frame = parsed || JSON.parse(data);
    if (frame.type === 'error') this.errors += 1;
    if (this.onText) this.onText(frame);
  }

  send(text) {
    this.sendFrame(0x1, Buffer.from(text));
  }

  sendFrame(opcode, payload) {
    // Clients mask what they send (RFC 6455, 5.3).
    const n = payload.length;
    const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const frame = Buffer.allocUnsafe(head + 4 + n);
    frame[0] = 0x80 | opcode;
    if (n < 126) frame[1] = 0x80 | n;
    else if (n < 65536) { frame[1] = 0x80 | 126; frame.writeUInt16BE(n, 2); }
    else { frame[1] = 0x80 | 127; frame.writeBigUInt64BE(BigInt(n), 2); }
    const mask = frame.subarray(head, head + 4);
    mask.writeUInt32BE((Math.random() * 0x100000000) >>> 0);
    for (let i = 0; i < n; i++) frame[head + 4 + i] = payload[i] ^ mask[i & 3];
    this.socket.write(frame);
  }

  close() {
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }
}

// Every socket reads into this one buffer, through `onread`: no stream, and no new Buffer
// for each read. The data is used (or copied) before the next read, which is what allows it.
const READ_BUFFER = Buffer.alloc(1 << 16);
// When the chunk being handled was read: the arrival time of the frames it completes. Taken
// once a read, so that the generator's work on the frames before one is not counted as
// the server's latency.
let readAt = 0;
const TARGET = new URL(opts.url);

function connect(name, query = '') {
  // Resolves with a Client once the server says `synced`; `query` goes after the path.
  return new Promise((resolve, reject) => {
    const key = crypto.randomBytes(16).toString('base64');
    let client = null;
    let response = Buffer.alloc(0); // the HTTP response, until its headers are whole
    const handshake = (chunk) => {
      response = Buffer.concat([response, chunk]);
      const end = response.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = response.toString('latin1', 0, end).split('\r\n');
      const status = statusLine.split(' ')[1];
      const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim()]));
      const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
      if (status !== '101' || headers.get('sec-websocket-accept') !== accept) {
        socket.destroy();
        reject(new Error(`${name}: ${status === '101' ? 'wrong Sec-WebSocket-Accept' : `HTTP ${status}`}`));
        return;
      }
      client = new Client(name, socket);
      client.onText = (frame) => { if (frame.type === 'synced') { client.onText = null; resolve(client); } };
      if (response.length > end + 4) client.received(response.subarray(end + 4));
      response = null;
    };
    const socket = net.connect({
      host: TARGET.hostname, port: Number(TARGET.port),
      onread: { buffer: READ_BUFFER, callback: (n, buf) => {
        readAt = now();
        const chunk = buf.subarray(0, n);
        if (client) client.received(chunk);
        else handshake(chunk);
      } },
    });
    socket.on('connect', () => socket.write(
      `GET /ws/${name}${query} HTTP/1.1\r\nHost: ${TARGET.host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n`
      + `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`));
    socket.on('close', () => reject(new Error(`${name} closed`)));
    socket.on('error', reject);
  });
}

async function inLanes(count, concurrency, task) {
  // `task(i)` for each i of [0, count), at most `concurrency` of them under way at once;
  // rejects with the first failure.
  let next = 0;
  const lane = async () => { while (next < count) await task(next++); };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

async function connectAll(names, { concurrency = 400, clients = [], refused = null, query = () => '' } = {}) {
  // Opens every connection, at most `concurrency` handshakes at a time, into `clients`
  // (names[i] with the path's query(i)). The first one that fails rejects, unless
  // `refused` (an array) is given: then each failure is pushed there, its slot left
  // empty, and the others go on.
  await inLanes(names.length, concurrency, async (i) => {
    try {
      clients[i] = await connect(names[i], query(i));
    } catch (err) {
      if (!refused) throw err;
      refused.push(err.message);
    }
  });
  return clients;
}

// The chat server's HTTP API, for the room run's set-up: a few connections kept alive.
const API_AGENT = new http.Agent({ keepAlive: true, maxSockets: 32 });

function api(path, body, token) {
  // POST `body` (JSON) to `path`, as `token`'s user if given; resolves with the JSON
  // answer, rejects on any status but 2xx.
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const headers = { 'Content-Type': 'application/json', 'Content-Length': data.length };
    if (token) headers.Authorization = `Bearer ${token}`;
    const request = http.request({ host: TARGET.hostname, port: Number(TARGET.port), method: 'POST', path, headers,
      agent: API_AGENT }, (response) => {
      const parts = [];
      response.on('data', (part) => parts.push(part));
      response.on('end', () => {
        const answer = Buffer.concat(parts).toString();
        if (response.statusCode >= 300) reject(new Error(`POST ${path}: HTTP ${response.statusCode} ${answer}`));
        else resolve(JSON.parse(answer));
      });
    });
    request.on('error', reject);
    request.end(data);
  });
}

function closeAll(clients) {
  for (const c of clients.filter(Boolean)) c.close();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const names = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function text(key, size) {
  // A message body of `size` bytes that starts with its key.
  return (key + '|').padEnd(size, 'x');
}

function startMeasuring() {
  // The runner reads the server's CPU from this line to the one `stopMeasuring` prints.
  console.log(JSON.stringify({ phase: 'measuring' }));
  return { started: now(), cpu: process.cpuUsage() };
}

function stopMeasuring(mark) {
  // The measured seconds, and the share of its own core the generator used in them.
  const seconds = (now() - mark.started) / 1000;
  const cpu = process.cpuUsage(mark.cpu);
  console.log(JSON.stringify({ phase: 'measured' }));
  return { seconds, load_cpu: (cpu.user + cpu.system) / 1e6 / seconds };
}

class Window {
  // Counts deliveries and latencies between open() and close(), and the generator's CPU.
  constructor() { this.on = false; this.count = 0; this.latencies = []; }
  open() { this.on = true; this.mark = startMeasuring(); }
  record(latency) { if (this.on) { this.count += 1; this.latencies.push(latency); } }
  close() {
    this.on = false;
    const { seconds, load_cpu } = stopMeasuring(this.mark);
    const sorted = this.latencies.sort((a, b) => a - b);
    return {
      per_second: this.count / seconds, p50_ms: percentile(sorted, 0.5), p99_ms: percentile(sorted, 0.99),
      max_ms: sorted.length ? sorted[sorted.length - 1] : null, count: this.count, load_cpu,
    };
  }
}

async function measure(window, seconds) {
  await sleep(1000); // warm-up
  window.open();
  await sleep(seconds * 1000);
  return window.close();
}

async function idle() {
  const n = opts.n || 2000;
  const warm = await connectAll(names('w', 100));
  closeAll(warm);
  console.log(JSON.stringify({ phase: 'warm' }));
  const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  await lines.next();
  presenceFrames = 0; // the warm-up's do not count
  parseEvery = opts.parse !== false; // the crowd's clients read every frame as the page does
  const started = now();
  const clients = [];
  // A server may close handshakes it finds too slow (`websockets` does after 10 s): those
  // count as not connected, like the ones still under way at the limit.
  const refused = [];
  const all = connectAll(names('i', n), { clients, refused });
  const finished = await Promise.race([all.then(() => true), sleep((opts.limit_s || 30) * 1000).then(() => false)]);
  const connected = clients.filter(Boolean).length;
  const allIn = finished && connected === n;
  console.log(JSON.stringify({ phase: 'ready', connect_s: allIn ? (now() - started) / 1000 : null, n, connected,
    refused: refused.length }));
  await lines.next();
  console.log(JSON.stringify({ phase: 'closing', presence: presenceFrames }));
  closeAll(clients);
  process.exit(0); // handshakes still under way past the limit are abandoned
}

function afterReads(action) {
  // `action(i)` for each `i` given, once the reads of this turn of the event loop are done:
  // a refill sent in the middle of them would delay the reads after it, and so add the
  // generator's own sending to the latency it stamps on their frames.
  let due = [];
  const run = () => {
    const these = due;
    due = [];
    for (const i of these) action(i);
  };
  return (i) => { if (due.push(i) === 1) setImmediate(run); };
}

async function closedLoop(clients, { senders, inflight, seconds, keepOpen = false }, frameFor, heard) {
  // Each sender (the first `senders` clients, or the clients of the indices given) keeps
  // `inflight` messages going; a message's slot is refilled once `heard(key, j)` says
  // client j was its last recipient (true), or not yet (false). null: j should not have
  // had it, and it is not counted. Latency: send to each arrival. With `keepOpen`, the
  // clients stay connected, and it returns once what was in flight has arrived.
  const started = new Map();
  const window = new Window();
  let seq = 0;
  let stopping = false;
  const pump = afterReads((i) => {
    if (stopping) return;
    const key = `${i}.${seq++}`;
    started.set(key, now());
    clients[i].send(JSON.stringify(frameFor(i, key)));
  });
  clients.forEach((c, j) => {
    c.onDelivery = (key) => {
      const sent = started.get(key);
      if (sent === undefined) return; // not of this run
      const last = heard(key, j);
      if (last === null) return;
      window.record(readAt - sent);
      if (last) { started.delete(key); pump(Number(key.split('.')[0])); }
    };
  });
  const who = typeof senders === 'number' ? Array.from({ length: senders }, (_, i) => i) : senders;
  for (const i of who) for (let k = 0; k < inflight; k++) pump(i);
  const result = await measure(window, seconds);
  stopping = true;
  result.errors = clients.reduce((sum, c) => sum + c.errors, 0);
  if (!keepOpen) closeAll(clients);
  for (const deadline = now() + 10000; keepOpen && started.size && now() < deadline;) await sleep(10);
  if (keepOpen) result.unheard = started.size; // messages a recipient never had, 10 s on
  return result;
}

function directTo(clients) {
  // A direct message from client i to another client picked at random.
  return (i, key) => {
    let j = Math.floor(Math.random() * (clients.length - 1));
    if (j >= i) j += 1;
    return { to_user: clients[j].name, msg: text(key, 64), cid: `${RUN}.${key}` };
  };
}

async function direct() {
  const { users = 200, senders = 50, inflight = 8, seconds = 5 } = opts;
  const clients = await connectAll(names('d', users));
  await sleep(500);
  return closedLoop(clients, { senders, inflight, seconds }, directTo(clients), () => true);
}

async function paced() {
  // Direct messages at a fixed `rate`, sent on schedule whatever the replies (an open
  // loop): the latency a server gives at that rate, where the closed loop of `direct`
  // gives its latency at saturation, set by the messages kept in flight. A message's
  // latency runs from when it was due, so a generator running late cannot hide a stall.
  const { users = 200, senders = 50, rate, seconds = 5, grace_s = 3 } = opts;
  const clients = await connectAll(names('p', users));
  await sleep(500);
  const frameFor = directTo(clients);
  const interval = 1000 / rate;
  const first = Math.ceil(1000 / interval); // the first second warms up
  const last = first + Math.floor(seconds * 1000 / interval); // measured: [first, last)
  const latency = new Float64Array(last - first).fill(Infinity);
  const lag = new Float64Array(last - first); // how late the generator sent each one
  const started = now();
  let heard = 0;
  for (const c of clients) {
    c.onDelivery = (key) => {
      const k = Number(key);
      if (k >= first && k < last) { latency[k - first] = readAt - (started + k * interval); heard += 1; }
    };
  }
  let sent = 0;
  let mark = null;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(last, Math.floor((now() - started) / interval) + 1);
      for (; sent < due; sent++) {
        if (sent === first) mark = startMeasuring();
        if (sent >= first) lag[sent - first] = now() - (started + sent * interval);
        clients[sent % senders].send(JSON.stringify(frameFor(sent % senders, `${sent}`)));
      }
      if (sent === last) { clearInterval(timer); resolve(); }
    }, 1);
  });
  const { load_cpu } = stopMeasuring(mark);
  const deadline = now() + grace_s * 1000;
  while (heard < latency.length && now() < deadline) await sleep(10);
  const sorted = latency.sort(); // numeric, as a typed array sorts: unheard ones last, as Infinity
  const result = {
    per_second: rate, heard_share: heard / latency.length, count: latency.length,
    p50_ms: percentile(sorted, 0.5), p99_ms: percentile(sorted, 0.99), max_ms: sorted[sorted.length - 1],
    send_lag_p99_ms: percentile(lag.sort(), 0.99), load_cpu,
    errors: clients.reduce((sum, c) => sum + c.errors, 0),
  };
  closeAll(clients);
  return result;
}

async function group() {
  const { users = 500, senders = 4, inflight = 1, seconds = 5 } = opts;
  const clients = await connectAll(names('g', users));
  await sleep(500);
  const remaining = new Map(); // key -> recipients still to hear it
  const toEveryone = (i, key) => {
    remaining.set(key, users - 1);
    return { msg: text(key, 64), cid: `${RUN}.${key}` };
  };
  const heard = (key) => {
    const left = remaining.get(key) - 1;
    if (left) remaining.set(key, left); else remaining.delete(key);
    return left === 0;
  };
  return closedLoop(clients, { senders, inflight, seconds }, toEveryone, heard);
}

async function stall() {
  const { pairs = 20, seconds = 3, bytes = 65536 } = opts;
  const clients = await connectAll([...names('a', pairs), ...names('b', pairs), 'bigsender', 'bigreader']);
  await sleep(500);
  let window = new Window();
  let stopping = false;
  const sent = new Map();
  let seq = 0;
  const pump = afterReads((i) => {
    if (stopping) return;
    const key = `${i}.${seq++}`;
    sent.set(key, now());
    clients[i].send(JSON.stringify({ to_user: clients[i + pairs].name, msg: text(key, 64) }));
  });
  for (const c of clients.slice(pairs, 2 * pairs)) {
    c.onDelivery = (key) => {
      window.record(readAt - sent.get(key));
      pump(Number(key.split('.')[0]));
    };
  }
  for (let i = 0; i < pairs; i++) pump(i);
  const quiet = await measure(window, seconds);
  // The JSON around the text makes the frame a little larger than `bytes`: stay under it.
  const big = { to_user: 'bigreader', msg: 'y'.repeat(bytes - 64) };
  let bigReceived = 0;
  clients[clients.length - 1].onDelivery = () => { bigReceived += 1; };
  const timer = setInterval(() => clients[clients.length - 2].send(JSON.stringify(big)), 100);
  window = new Window();
  const busy = await measure(window, seconds);
  clearInterval(timer);
  stopping = true;
  const errors = clients.reduce((sum, c) => sum + c.errors, 0);
  closeAll(clients);
  return { quiet, busy, big_received: bigReceived, errors };
}

function roomPlan(rooms, size, big) {
  // Who is in which room: users r0, r1, ...; `big` is users [0, big), room small<k>
  // users [k * size, (k + 1) * size). Each room's first member creates it.
  const users = names('r', Math.max(big, rooms * size));
  const small = Array.from({ length: rooms }, (_, k) => ({ name: `small${k}`, first: k * size, size }));
  const all = [{ name: 'big', first: 0, size: big }, ...small];
  const roomsOf = (i) => all.filter((room) => i >= room.first && i < room.first + room.size);
  return { users, small, big: all[0], all, roomsOf };
}

async function joinByApi(plan) {
  // Every member logs in (POST /api/token), each room is created by its first member,
  // and the others join; many requests at once, on the few connections of API_AGENT.
  const tokens = [];
  await inLanes(plan.users.length, 64, async (i) => {
    tokens[i] = (await api('/api/token', { name: plan.users[i] })).token;
  });
  for (const room of plan.all) await api('/api/rooms', { name: room.name }, tokens[room.first]);
  await inLanes(plan.users.length, 64, async (i) => {
    for (const room of plan.roomsOf(i)) if (room.first !== i) await api(`/api/rooms/${room.name}/join`, {}, tokens[i]);
  });
}

function roomTraffic(room, run) {
  // The frames and the counting of a closed loop in rooms: `room(i)` is sender i's room;
  // `run` in every cid, as keys start again in each run (the chat server would take a
  // repeated cid for a message sent again, and only acknowledge it).
  // A message is heard when all the room's other members have it; a delivery to anyone
  // else is a stray (counted, and a failure of the server).
  const remaining = new Map(); // key -> recipients still to hear it
  const traffic = { strays: 0 };
  traffic.frameFor = (i, key) => {
    remaining.set(key, room(i).size - 1);
    return { room: room(i).name, msg: text(key, 64), cid: `${RUN}.${run}.${key}` };
  };
  traffic.heard = (key, j) => {
    const { first, size } = room(Number(key.split('.')[0]));
    if (j < first || j >= first + size) { traffic.strays += 1; return null; }
    const left = remaining.get(key) - 1;
    if (left) remaining.set(key, left); else remaining.delete(key);
    return left === 0;
  };
  return traffic;
}

async function connectMembers(users, query, attempts = 4) {
  // Every member connected, into one array; a handshake that failed is tried again, up to
  // `attempts` times in all: on a busy machine `websockets` closes the ones it did not
  // finish within 10 s, and a full accept queue drops others.
  const clients = [];
  let missing = users.map((_, i) => i);
  for (let attempt = 0; missing.length && attempt < attempts; attempt++) {
    const failed = [];
    await inLanes(missing.length, 400, async (k) => {
      const i = missing[k];
      try {
        clients[i] = await connect(users[i], query(i));
      } catch (err) {
        failed.push(i);
      }
    });
    missing = failed;
  }
  if (missing.length) throw new Error(`${missing.length} of ${users.length} members could not connect`);
  return clients;
}

async function rooms() {
  const { rooms: count = 20, size = 500, big = 10000, senders = 4, inflight = 1, seconds = 5, join = 'api' } = opts;
  const plan = roomPlan(count, size, big);
  let started = now();
  if (join === 'api') await joinByApi(plan);
  const setupS = (now() - started) / 1000;
  started = now();
  const query = join === 'query' ? (i) => `?rooms=${plan.roomsOf(i).map((room) => room.name).join(',')}` : () => '';
  const clients = await connectMembers(plan.users, query);
  const connectS = (now() - started) / 1000;
  await sleep(500);
  const inSmall = roomTraffic((i) => plan.small[Math.floor(i / size)], 'small');
  const small = await closedLoop(clients, { senders: plan.small.map((room) => room.first), inflight, seconds, keepOpen: true },
    inSmall.frameFor, inSmall.heard);
  const inBig = roomTraffic(() => plan.big, 'big');
  const whole = await closedLoop(clients, { senders, inflight, seconds, keepOpen: true }, inBig.frameFor, inBig.heard);
  closeAll(clients);
  return { small, big: whole, setup_s: setupS, connect_s: connectS, members: clients.length,
    strays: inSmall.strays + inBig.strays, unheard: small.unheard + whole.unheard, errors: whole.errors };
}

const scenarios = { idle, direct, paced, group, stall, rooms };
scenarios[opts.scenario]().then((result) => {
  if (result) console.log(JSON.stringify(result));
  process.exit(0);
}, (err) => {
  console.error(`load: ${err.stack || err}`);
  process.exit(1);
});
