// A small EventSource for Node 20 (which has none), enough for the chat's event streams:
// named events, `id:` (sent back as Last-Event-ID when it reconnects), `retry:`, comments,
// reconnection after the stream ends, and giving up (CLOSED) on an HTTP error, as the
// WHATWG spec says. http: only.
import http from "node:http";

export class EventSource extends EventTarget {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;

  constructor(url) {
    super();
    this.url = String(url);
    this.readyState = EventSource.CONNECTING;
    this.lastEventId = "";
    this.onopen = this.onmessage = this.onerror = null;
    this._retry = 2000;
    this._timer = null;
    this._connect();
  }

  close() {
    this.readyState = EventSource.CLOSED;
    clearTimeout(this._timer);
    this._request?.destroy();
  }

  _fire(event) {
    this.dispatchEvent(event);
    const handler = this[`on${event.type}`];
    if (["open", "message", "error"].includes(event.type) && typeof handler === "function") handler.call(this, event);
  }

  _connect() {
    this._timer = null;
    const headers = {Accept: "text/event-stream", "Cache-Control": "no-store"};
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    const request = http.get(this.url, {headers}, (response) => {
      const type = response.headers["content-type"] || "";
      if (response.statusCode !== 200 || !type.startsWith("text/event-stream")) {
        response.resume();
        this._fail();
        return;
      }
      this.readyState = EventSource.OPEN;
      this._fire(new Event("open"));
      this._read(response);
    });
    request.on("error", () => this._lost());
    this._request = request;
  }

  _read(response) {
    response.setEncoding("utf8");
    let buffer = "";
    let data = [], type = "", id = null;
    response.on("data", (chunk) => {
      buffer += chunk;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (id !== null) this.lastEventId = id;
          if (data.length && this.readyState !== EventSource.CLOSED) {
            this._fire(new MessageEvent(type || "message", {data: data.join("\n"), lastEventId: this.lastEventId}));
          }
          data = []; type = ""; id = null;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") type = value;
        else if (field === "id" && !value.includes("\0")) id = value;
        else if (field === "retry" && /^\d+$/.test(value)) this._retry = Number(value);
      }
    });
    response.on("close", () => this._lost());
  }

  _lost() {
    if (this.readyState === EventSource.CLOSED || this._timer) return;  // already lost
    this.readyState = EventSource.CONNECTING;
    this._fire(new Event("error"));
    if (this.readyState === EventSource.CLOSED) return;  // closed by a handler
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._connect(), this._retry);
  }

  _fail() {
    this.readyState = EventSource.CLOSED;
    this._fire(new Event("error"));
  }
}
