// A real `python wsgi.py` on a free port with a data directory of its own, for the Node
// tests; like tests/liveserver.py. Every wait is bounded, scaled by CHAT_TEST_TIMEOUT_SCALE.
import {spawn} from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const SCALE = Number(process.env.CHAT_TEST_TIMEOUT_SCALE || "1");

/** `seconds` scaled by CHAT_TEST_TIMEOUT_SCALE, in milliseconds. */
export function timeout(seconds) {
  return seconds * SCALE * 1000;
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function within(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function python() {
  if (process.env.CHAT_PYTHON) return process.env.CHAT_PYTHON;
  const venv = path.join(ROOT, ".venv", "bin", "python");
  return fs.existsSync(venv) ? venv : "python3";
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const {port} = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

export class LiveServer {
  constructor(env = {}) {
    this.env = env;
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-js-"));
    this.logPath = path.join(this.dataDir, "server.log");
    this.proc = null;
  }

  /** Start the process and wait until /healthz answers. */
  async start() {
    this.port ??= await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    const log = fs.openSync(this.logPath, "a");
    const env = {...process.env, CHAT_PORT: String(this.port), CHAT_DATA_DIR: this.dataDir, PYTHONUNBUFFERED: "1", ...this.env};
    this.proc = spawn(python(), ["wsgi.py"], {cwd: ROOT, env, stdio: ["ignore", log, log]});
    fs.closeSync(log);
    let exited = null;
    this.proc.once("exit", (code, signal) => { exited = {code, signal}; });
    const deadline = Date.now() + timeout(20);
    while (Date.now() < deadline) {
      if (exited) throw new Error(`the server exited (${JSON.stringify(exited)}):\n${this.log()}`);
      try {
        const response = await fetch(`${this.url}/healthz`, {signal: AbortSignal.timeout(1000)});
        if (response.ok) return this;
      } catch (err) {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`the server did not answer in time:\n${this.log()}`);
  }

  /** SIGTERM, then SIGKILL if it lingers; resolves once the process is gone. */
  async stop() {
    const proc = this.proc;
    this.proc = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((resolve) => proc.once("exit", resolve));
    proc.kill("SIGTERM");
    try {
      await within(gone, timeout(10), "the server to stop");
    } catch (err) {
      proc.kill("SIGKILL");
      await within(gone, timeout(5), "the server to die");
    }
  }

  /** Stop, and remove the data directory. */
  async dispose() {
    await this.stop();
    fs.rmSync(this.dataDir, {recursive: true, force: true});
  }

  log() {
    return fs.existsSync(this.logPath) ? fs.readFileSync(this.logPath, "utf8") : "";
  }

  /** POST `body` as JSON to `path`; returns {status, body}. */
  async post(urlPath, body, headers = {}) {
    const response = await fetch(this.url + urlPath, {
      method: "POST", headers: {"Content-Type": "application/json", ...headers}, body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeout(10))});
    return {status: response.status, body: await response.json()};
  }

  /** A token for `name` from POST /api/token. */
  async token(name) {
    const {status, body} = await this.post("/api/token", {name});
    if (status !== 200) throw new Error(`POST /api/token for ${name}: ${status} ${JSON.stringify(body)}`);
    return body.token;
  }

  /** GET `path` with a bearer token; the parsed JSON body. */
  async get(urlPath, token) {
    const response = await fetch(this.url + urlPath, {
      headers: token ? {Authorization: `Bearer ${token}`} : {}, signal: AbortSignal.timeout(timeout(10))});
    return response.json();
  }
}
