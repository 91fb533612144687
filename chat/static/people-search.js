// "Find people": a search box in the sidebar that starts a direct conversation with anyone
// known to the server, online or not (GET /api/users?q=<prefix>). Asked once typing pauses;
// an answer to an older query than the box's text is dropped.
import {ChatError} from "./chat-client.js";
import {el} from "./message-view.js";

const $ = (id) => document.getElementById(id);
const PAUSE_MS = 200;
const LIMIT = 20;

/** Start the search box; `openPerson(name)` opens the conversation with `name`. */
export function startPeopleSearch(client, me, {openPerson}) {
  const input = $("find");
  let timer = null;
  let asked = 0;  // the number of the newest query: answers to older ones are dropped

  function show(users) {
    const others = users.filter((user) => user.user.toLowerCase() !== me.toLowerCase());
    $("found").replaceChildren(...others.map((user) => {
      const item = el("li");
      const button = el("button", undefined, user.online ? "conv online" : "conv");
      button.type = "button";
      button.dataset.user = user.user.toLowerCase();
      button.setAttribute("aria-label", `Write to ${user.user}, ${user.online ? "online" : "offline"}`);
      button.append(el("span", undefined, "dot"), el("span", user.user, "name"));
      button.addEventListener("click", () => choose(user.user));
      item.append(button);
      return item;
    }));
    $("find-empty").hidden = others.length > 0;
  }

  function clear() {
    asked += 1;
    clearTimeout(timer);
    $("found").replaceChildren();
    $("find-empty").hidden = true;
    $("find-error").textContent = "";
  }

  function choose(name) {
    input.value = "";
    clear();
    openPerson(name);
  }

  async function search(prefix) {
    const mine = ++asked;
    let users;
    try {
      users = await client.searchUsers(prefix, {limit: LIMIT});
    } catch (err) {
      if (mine !== asked) return;
      $("find-error").textContent = err instanceof ChatError && err.code !== "rate_limited"
        ? "Search is not available." : "The search did not go through: try again.";
      return;
    }
    if (mine !== asked) return;
    $("find-error").textContent = "";
    show(Array.isArray(users) ? users : []);
  }

  input.addEventListener("input", () => {
    const prefix = input.value.trim();
    clear();
    if (prefix) timer = setTimeout(() => search(prefix), PAUSE_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") { input.value = ""; clear(); }
  });
  // Enter opens the first person found, asking at once when typing has not paused yet
  // (every keystroke empties the list, so a button shown is an answer to the box's text).
  $("find-people").addEventListener("submit", async (event) => {
    event.preventDefault();
    const prefix = input.value.trim();
    if (!prefix) return;
    if (!$("found").querySelector("button")) {
      clearTimeout(timer);
      await search(prefix);
    }
    $("found").querySelector("button")?.click();
  });
}
