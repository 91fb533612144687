// "alice is typing…": the typing notices heard, per conversation, each shown for 5 s after
// the last one (the sender repeats it every 2 s while typing) or until that person's
// message arrives. Only the open conversation's are on screen.
import {conversationOf} from "./chat-client.js";

const SHOWN_MS = 5000;

/** The words for the people typing: "", "alice is typing…", "alice and bob are typing…", "3 people …". */
export function typingText(names) {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

/**
 * Start following typing notices for `me`. `keyFor(conversation)` gives the page's key of a
 * conversation (`{with}` or `{room}`); `element` shows the open one's. Returns
 * {heard(frame), stopped(key, name), show(key)}.
 */
export function startTyping(me, {keyFor, element}) {
  const typers = new Map();  // conversation key -> Map(person's key -> {name, timer})
  const lower = (name) => String(name).toLowerCase();
  let shownKey = null;

  function render() {
    const names = [...(typers.get(shownKey)?.values() ?? [])].map((person) => person.name);
    element.textContent = typingText(names);
  }

  /** A typing frame arrived. */
  function heard(frame) {
    if (lower(frame.user) === lower(me)) return;
    const key = keyFor(conversationOf(frame, me));
    if (!typers.has(key)) typers.set(key, new Map());
    const people = typers.get(key);
    const person = lower(frame.user);
    clearTimeout(people.get(person)?.timer);
    people.set(person, {name: frame.user, timer: setTimeout(() => stopped(key, person), SHOWN_MS)});
    if (key === shownKey) render();
  }

  /** `name` no longer types in conversation `key` (their message came, or the notice aged). */
  function stopped(key, name) {
    const people = typers.get(key);
    const person = lower(name);
    if (!people?.has(person)) return;
    clearTimeout(people.get(person).timer);
    people.delete(person);
    if (!people.size) typers.delete(key);
    if (key === shownKey) render();
  }

  /** Show conversation `key`'s typists. */
  function show(key) {
    shownKey = key;
    render();
  }

  return {heard, stopped, show};
}
