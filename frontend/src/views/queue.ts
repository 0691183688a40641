/**
 * The kernel status in the header, which opens the run queue: what runs and what waits,
 * in order, who asked, and Cancel on your own waiting runs
 * (`DELETE /api/huddle/requests/{id}`).
 */
import type { RequestId } from '../logic/ids';
import { EMPTY_SERVER_PRESENCE, type QueueItem, type ServerPresence } from '../protocol/presence';
import { h } from './dom';

export interface QueueContext {
  myUsername: string;
  /** Index and first line of a cell of this notebook, or null (another notebook's). */
  describeCell(cellId: string): { index: number; firstLine: string } | null;
  goToCell(cellId: string): void;
  cancel(requestId: RequestId): void;
}

export class QueuePanel {
  private readonly label = h('span', { className: 'hd-kernel' }, 'No kernel');
  private readonly summary = h('summary', { title: 'Kernel status: open to see the run queue' }, this.label);
  private readonly list = h('ol', { className: 'hd-queue-list', 'aria-label': 'Run queue' });
  readonly element = h('details', { className: 'hd-menu hd-queue' },
    this.summary, h('div', { className: 'hd-menu-body' }, this.list));
  private key: string | null = null;

  constructor(private readonly ctx: QueueContext) {
    this.show(EMPTY_SERVER_PRESENCE);
  }

  /** The status shown, and the control's name: the status, then what it opens. */
  setLabel(text: string, explanation = text): void {
    this.label.textContent = text;
    this.label.title = explanation; // (a long status is also cut, to keep the header on one line)
    this.summary.setAttribute('aria-label', `${text} (run queue)`);
  }

  show(server: ServerPresence): void {
    if (server.kernel) this.setLabel(`Kernel: ${server.kernel.status}`);
    const queued = server.queue.length;
    this.label.dataset['queue'] = String(queued);
    if (queued) this.setLabel(`Kernel: busy · ${queued} in queue`);
    const key = JSON.stringify(server.queue.map((q) => [q.requestId, q.state, q.cellId, q.requestedBy.username]));
    if (key === this.key) return;
    this.key = key;
    if (!queued) {
      this.list.replaceChildren(h('li', { className: 'hd-queue-empty' }, 'Nothing is running or waiting.'));
      return;
    }
    let waiting = 0;
    this.list.replaceChildren(...server.queue.map((item) => this.row(item, item.state === 'queued' ? ++waiting : 0)));
  }

  private row(item: QueueItem, position: number): HTMLElement {
    const cell = this.ctx.describeCell(item.cellId);
    const name = cell ? `Cell ${cell.index + 1}` : 'A cell of another notebook';
    const source = cell?.firstLine.slice(0, 40) ?? '';
    const mine = item.requestedBy.username === this.ctx.myUsername;
    return h('li', { className: `hd-queue-item hd-queue-${item.state}`, 'data-request-id': item.requestId },
      h('span', { className: 'hd-queue-state' }, item.state === 'running' ? 'Running' : `Waiting #${position}`),
      h('span', { className: 'hd-queue-cell', title: source }, `${name}${source ? `: ${source}` : ''}`),
      h('span', { className: 'hd-queue-who' }, `asked by ${mine ? 'you' : item.requestedBy.displayName}`),
      cell ? h('button', {
        type: 'button', 'aria-label': `Go to ${name}`,
        onclick: () => {
          this.element.open = false;
          this.ctx.goToCell(item.cellId);
        },
      }, 'Go to') : null,
      mine && item.state === 'queued' ? h('button', {
        type: 'button', className: 'hd-danger', 'aria-label': `Cancel the queued run of ${name}`,
        onclick: (event: MouseEvent) => {
          (event.currentTarget as HTMLButtonElement).disabled = true;
          this.ctx.cancel(item.requestId);
        },
      }, 'Cancel') : null);
  }
}
