// Changing your own messages. Edit (the button on your message, or ↑ in an empty composer)
// puts the message's text in the composer: Enter saves, Escape cancels, the draft that was
// there comes back after. Delete asks first. The server's edit and delete events change the
// timeline (message-view.js), here as for everyone else; a refusal shows as an error frame.
import {isDeleted, messageText} from "./message-view.js";

/**
 * Start the editing controls over the composer's `text` (its textarea), `bar` (shown while
 * editing), `button` (its submit button) and `cancelButton`. Returns
 * {begin(li), cancel(), save(), remove(li), active(), dropped(li)}.
 */
export function startEditing(client, {text, bar, button, cancelButton}) {
  let editing = null;  // {id, li, draft}
  const label = button.textContent;

  // Until the server's answer the item looks pending; a refusal shows as the "error" event.
  function pending(li, promise) {
    li.classList.add("saving");
    promise.catch(() => {}).finally(() => li.classList.remove("saving"));
  }

  /** Edit the message of item `li`. */
  function begin(li) {
    cancel();
    editing = {id: Number(li.dataset.id), li, draft: text.value};
    li.classList.add("editing");
    bar.hidden = false;
    button.textContent = "Save";
    text.value = messageText(li);
    text.dispatchEvent(new Event("input"));  // the composer fits its height to the text
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
  }

  /** Leave editing; the draft comes back. */
  function cancel() {
    if (!editing) return;
    editing.li.classList.remove("editing");
    text.value = editing.draft;
    text.dispatchEvent(new Event("input"));
    editing = null;
    bar.hidden = true;
    button.textContent = label;
  }

  /** Save the composer's text as the new text (emptied: offer to delete). */
  function save() {
    const {id, li} = editing;
    const value = text.value;
    cancel();
    if (isDeleted(li) || value === messageText(li)) return;
    if (!value.trim()) { remove(li); return; }
    pending(li, client.edit(id, value));
  }

  /** Delete the message of item `li`, once the person confirms. */
  function remove(li) {
    if (!confirm("Delete this message? It is removed for everyone in the conversation.")) return;
    if (editing?.li === li) cancel();
    pending(li, client.delete(Number(li.dataset.id)));
  }

  /** Item `li` changed or went away: stop editing it if it can no longer be. */
  function dropped(li) {
    if (editing?.li === li && (isDeleted(li) || !li.isConnected)) cancel();
  }

  cancelButton.addEventListener("click", () => { cancel(); text.focus(); });

  return {begin, cancel, save, remove, dropped, active: () => editing !== null};
}
