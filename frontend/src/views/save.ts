/**
 * The save state in the header, from the shared document's `state` map that the server
 * writes: "Saved", "Saving…" (`state.dirty`), "Save failed: <reason>" (`state.save_error`)
 * with a Retry button, and "Not synced" while this page's edits cannot reach the server.
 */
import type { NotebookRoom } from '../protocol/room';
import { h, toast } from './dom';

export class SaveStatus {
  private readonly label = h('span', { className: 'hd-save', role: 'status', 'aria-live': 'polite' });
  private readonly retry = h('button', {
    type: 'button', className: 'hd-save-retry', hidden: true,
    'aria-label': 'Retry saving', title: 'Ask the server to save now',
    onclick: () => void this.saveNow(),
  }, 'Retry');
  readonly element = h('span', { className: 'hd-save-group' }, this.label, this.retry);
  private retrying = false;

  constructor(private readonly room: NotebookRoom) {
    this.show();
  }

  show(): void {
    const { room } = this;
    // The server's `state.dirty` says nothing about edits that have not reached it yet.
    const synced = room.status === 'live';
    const dirty = room.dirty;
    const error = room.saveError;
    if (error) {
      this.label.textContent = `Save failed: ${error}`;
      this.label.title = `The server could not save the file: ${error}. Your edits are kept; it tries again by itself, or now with Retry.`;
    } else {
      this.label.textContent = !synced ? 'Not synced' : this.retrying || dirty ? 'Saving…' : 'Saved';
      this.label.removeAttribute('title');
    }
    this.label.dataset['state'] = error ? 'failed' : !synced ? 'unsynced' : dirty || this.retrying ? 'dirty' : 'saved';
    this.label.dataset['dirty'] = String(dirty || !synced);
    this.retry.hidden = !error;
  }

  /**
   * Retry, and Ctrl+S: Jupyter's RAW "save" request, which makes the server save at once
   * (the same save its scheduler retries with backoff) and answers once the file is on
   * disk or the write failed; the server clears `save_error` when it works.
   * `announce`: say "Saved" when it worked (the label may have said so all along).
   */
  async saveNow(announce = false): Promise<void> {
    if (this.retrying) return;
    this.retrying = true;
    this.retry.disabled = true;
    this.label.textContent = 'Saving…';
    try {
      const outcome = await this.room.requestSave();
      if (outcome === 'success' && announce) toast('Saved');
      if (outcome === 'offline') toast('Not connected: the server saves once this page is back online', 'error');
      else if (outcome === 'failed') toast(`Save failed again${this.room.saveError ? `: ${this.room.saveError}` : ''}`, 'error');
    } finally {
      this.retrying = false;
      this.retry.disabled = false;
      this.show();
    }
  }
}

/** Ctrl+S (Cmd+S) while the notebook page is shown, in either mode: save now, instead of
 * the browser's "Save page as". Listened for before the editors get the key. */
export class SaveKey {
  private readonly onKey = (event: KeyboardEvent): void => {
    if (event.key.toLowerCase() !== 's' || !(event.ctrlKey || event.metaKey) || event.altKey || event.shiftKey) return;
    if (!this.page.isConnected) return;
    event.preventDefault();
    event.stopPropagation();
    this.save();
  };

  constructor(private readonly page: HTMLElement, private readonly save: () => void) {
    document.addEventListener('keydown', this.onKey, { capture: true });
  }

  destroy(): void {
    document.removeEventListener('keydown', this.onKey, { capture: true });
  }
}
