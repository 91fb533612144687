// The load generator of `make bench`: one Node process (ws + bufferutil) on its own core.
//
//   node bench/load.js '{"url": "ws://127.0.0.1:PORT", "scenario": "direct", ...}'
//
// Scenarios (the options below are their defaults):
//   idle    {n: 2000, limit_s: 30}          connect n users, report the time, hold them until
//                                           stdin says "close" (the runner reads memory meanwhile);
//                                           past limit_s it reports how many it connected instead
//   direct  {users: 200, senders: 50, inflight: 8, seconds: 5}
//   group   {users: 500, senders: 4, inflight: 1, seconds: 5}
//   stall   {pairs: 20, seconds: 3, bytes: 65536}   small round trips with and without 64 KiB messages
// Each prints one JSON line of results, with the share of its own core the generator used:
// near 1.0 would mean the generator, not the server, set the pace.
'use strict';

const WebSocket = require('ws');
const readline = require('readline');

const opts = JSON.parse(process.argv[2]);
const now = () => Number(process.hrtime.bigint()) / 1e6; // milliseconds

function connect(name) {
  // Resolves with a client once the server says `synced`.
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${opts.url}/ws/${name}`, { perMessageDeflate: false });
    const client = { name, ws, onMessage: null, errors: 0 };
    ws.on('message', (data) => {
      // hello and presence matter to no scenario: in a crowd, parsing them would make the
      // generator the bottleneck (every hello lists everyone online).
      const head = data.subarray(0, 24).toString('latin1');
      if (head.includes('"hello"') || head.includes('"presence"')) return;
      const frame = JSON.parse(data);
      if (frame.type === 'synced') resolve(client);
      else if (frame.type === 'error') client.errors += 1;
      else if (frame.type === 'message' && client.onMessage) client.onMessage(frame);
    });
    ws.on('error', reject);
    ws.on('close', (code) => reject(new Error(`${name} closed with ${code}`)));
  });
}

async function connectAll(names, concurrency = 400, clients = []) {
  // Opens every connection, at most `concurrency` handshakes at a time, into `clients`.
  let next = 0;
  async function lane() {
    while (next < names.length) {
      const i = next++;
      clients[i] = await connect(names[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, names.length) }, lane));
  return clients;
}

function closeAll(clients) {
  for (const c of clients.filter(Boolean)) { c.ws.removeAllListeners('close'); c.ws.on('close', () => {}); c.ws.terminate(); }
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

class Window {
  // Counts deliveries and latencies between open() and close(), and the generator's CPU.
  constructor() { this.on = false; this.count = 0; this.latencies = []; }
  open() { this.on = true; this.started = now(); this.cpu = process.cpuUsage(); }
  record(latency) { if (this.on) { this.count += 1; this.latencies.push(latency); } }
  close() {
    this.on = false;
    const seconds = (now() - this.started) / 1000;
    const cpu = process.cpuUsage(this.cpu);
    const sorted = this.latencies.sort((a, b) => a - b);
    return {
      per_second: this.count / seconds, p50_ms: percentile(sorted, 0.5), p99_ms: percentile(sorted, 0.99),
      max_ms: sorted.length ? sorted[sorted.length - 1] : null, count: this.count,
      load_cpu: (cpu.user + cpu.system) / 1e6 / seconds,
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
  const started = now();
  const clients = [];
  const all = connectAll(names('i', n), 400, clients);
  const finished = await Promise.race([all.then(() => true), sleep((opts.limit_s || 30) * 1000).then(() => false)]);
  const connected = clients.filter(Boolean).length;
  console.log(JSON.stringify({ phase: 'ready', connect_s: finished ? (now() - started) / 1000 : null, n, connected }));
  await lines.next();
  closeAll(clients);
  process.exit(0); // handshakes still under way past the limit are abandoned
}

async function closedLoop(clients, { senders, inflight, seconds }, frameFor, heard) {
  // Each of the first `senders` clients keeps `inflight` messages going; a message's slot
  // is refilled once `heard(key)` says every recipient has it. Latency: send to each arrival.
  const started = new Map();
  const window = new Window();
  let seq = 0;
  let stopping = false;
  const pump = (i) => {
    if (stopping) return;
    const key = `${i}.${seq++}`;
    started.set(key, now());
    clients[i].ws.send(JSON.stringify(frameFor(i, key)));
  };
  for (const c of clients) {
    c.onMessage = (frame) => {
      if (frame.cid) return; // the sender's acknowledgement
      const key = frame.msg.slice(0, frame.msg.indexOf('|'));
      window.record(now() - started.get(key));
      if (heard(key)) { started.delete(key); pump(Number(key.split('.')[0])); }
    };
  }
  for (let i = 0; i < senders; i++) for (let k = 0; k < inflight; k++) pump(i);
  const result = await measure(window, seconds);
  stopping = true;
  result.errors = clients.reduce((sum, c) => sum + c.errors, 0);
  closeAll(clients);
  return result;
}

async function direct() {
  const { users = 200, senders = 50, inflight = 8, seconds = 5 } = opts;
  const clients = await connectAll(names('d', users));
  await sleep(500);
  const toSomeoneElse = (i, key) => {
    let j = Math.floor(Math.random() * (users - 1));
    if (j >= i) j += 1;
    return { to_user: clients[j].name, msg: text(key, 64), cid: key };
  };
  return closedLoop(clients, { senders, inflight, seconds }, toSomeoneElse, () => true);
}

async function group() {
  const { users = 500, senders = 4, inflight = 1, seconds = 5 } = opts;
  const clients = await connectAll(names('g', users));
  await sleep(500);
  const remaining = new Map(); // key -> recipients still to hear it
  const toEveryone = (i, key) => {
    remaining.set(key, users - 1);
    return { msg: text(key, 64), cid: key };
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
  const pump = (i) => {
    if (stopping) return;
    const key = `${i}.${seq++}`;
    sent.set(key, now());
    clients[i].ws.send(JSON.stringify({ to_user: clients[i + pairs].name, msg: text(key, 64) }));
  };
  for (const c of clients.slice(pairs, 2 * pairs)) {
    c.onMessage = (frame) => {
      const key = frame.msg.slice(0, frame.msg.indexOf('|'));
      window.record(now() - sent.get(key));
      pump(Number(key.split('.')[0]));
    };
  }
  for (let i = 0; i < pairs; i++) pump(i);
  const quiet = await measure(window, seconds);
  // The JSON around the text makes the frame a little larger than `bytes`: stay under it.
  const big = { to_user: 'bigreader', msg: 'y'.repeat(bytes - 64) };
  let bigReceived = 0;
  clients[clients.length - 1].onMessage = () => { bigReceived += 1; };
  const timer = setInterval(() => clients[clients.length - 2].ws.send(JSON.stringify(big)), 100);
  window = new Window();
  const busy = await measure(window, seconds);
  clearInterval(timer);
  stopping = true;
  const errors = clients.reduce((sum, c) => sum + c.errors, 0);
  closeAll(clients);
  return { quiet, busy, big_received: bigReceived, errors };
}

const scenarios = { idle, direct, group, stall };
scenarios[opts.scenario]().then((result) => {
  if (result) console.log(JSON.stringify(result));
  process.exit(0);
}, (err) => {
  console.error(`load: ${err.stack || err}`);
  process.exit(1);
});
