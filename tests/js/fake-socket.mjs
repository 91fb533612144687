// A fake WebSocket for the client module's tests without a server: it greets and syncs as
// a server would, and `socket.serve(frame)` plays any other server frame.
import {ChatClient} from "../../chat/static/chat-client.js";

export const SERVER = "http://chat.invalid";
export const HELLO = {type: "hello", user: "vi", online: ["vi"], last_id: 40};
export const SYNCED = {type: "synced", last_id: 40, truncated: false};

/** A ChatClient for "vi" on fake sockets (not yet connected), and the sockets it opens. */
export function socketClient(options = {}) {
  const sockets = [];
  class Fake {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
      setTimeout(() => { this.readyState = 1; this.serve(HELLO); this.serve(SYNCED); }, 0);
    }
    serve(frame) { this.onmessage?.({data: JSON.stringify(frame)}); }
    send(data) { this.sent.push(JSON.parse(data)); }
    close() { this.readyState = 3; }
  }
  const client = new ChatClient({user: "vi", server: SERVER, WebSocket: Fake, ...options});
  return {client, sockets};
}
