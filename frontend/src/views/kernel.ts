/**
 * The page's side of the shared kernel: running cells, interrupt and restart, cancelling a
 * queued run and answering `input()`, each reporting failures as a toast; the kernel
 * status until the server's presence says more.
 */
import type { YNotebook } from '@jupyter/ydoc';

import type { RequestId } from '../logic/ids';
import type { KernelsApi } from '../protocol/kernels';
import type { KernelAction, ServerPresence } from '../protocol/presence';
import type { NotebookRoom } from '../protocol/room';
import { NotebookRunner } from '../protocol/runner';
import type { CellView } from './cell';
import { confirmAction } from './confirm';
import { toast } from './dom';
import type { QueuePanel } from './queue';

/** What each action does to everyone, asked before it is done. */
const QUESTIONS = {
  restart: {
    title: 'Restart the kernel for everyone?',
    text: 'Everyone in this notebook shares this kernel: restarting it clears all variables and imports, and stops what is running or waiting.',
    action: 'Restart',
  },
  change: {
    title: 'Change the kernel for everyone?',
    text: 'Everyone in this notebook shares this kernel: changing it stops the running one (its variables and imports are lost, and what runs or waits is stopped) and starts the new one for everyone.',
    action: 'Change kernel',
  },
  interrupt: {
    title: 'Interrupt the kernel for everyone?',
    text: 'This stops the cell that is running now and everything waiting in the queue, whoever asked for it.',
    action: 'Interrupt',
  },
};

export class KernelControls {
  readonly runner: NotebookRunner;
  /** The last restart or interrupt shown (undefined: none seen yet, so the one already in
   * the server's presence when this page opened is old news). */
  private lastAction: string | undefined;

  constructor(kernels: KernelsApi, private readonly room: NotebookRoom, private readonly queue: QueuePanel,
    private readonly myUsername: string) {
    this.runner = new NotebookRunner(kernels,
      { path: room.path, fileId: room.session.fileId, documentId: room.documentId }, () => kernelName(room.notebook));
  }

  /** Whether the notebook already has a kernel (a session), for the status. */
  async find(): Promise<void> {
    try {
      const kernel = await this.runner.find();
      if (this.room.serverPresence().kernel) return;
      // Without the sessions API (share-link guests) nothing here knows of a kernel that
      // the server's presence has not named yet: do not claim there is none.
      if (kernel) this.queue.setLabel('Kernel: idle');
      else if (this.runner.knowsSessions) this.queue.setLabel('No kernel yet', 'No kernel yet: it starts on the first run');
      else this.queue.setLabel('Kernel: not running yet', 'The kernel is not running yet, or has not run anything here since the server started');
    } catch (err) {
      this.queue.setLabel('Kernel: unknown');
      console.warn('listing sessions failed', err);
    }
  }

  /** Run the code cells among `cells`, in order, as one batch. */
  async execute(cells: CellView[]): Promise<void> {
    const toRun = cells.filter((c) => c.model.cell_type === 'code')
      .map((c) => ({ cellId: c.id, source: c.model.ysource.toString() }));
    await this.runner.run(toRun, () => this.queue.setLabel('Kernel: starting…'))
      .catch((err: unknown) => {
        if (!this.runner.kernel) this.queue.setLabel('No kernel (it could not start)');
        toast(`Could not run: ${message(err)}`, 'error');
      });
  }

  /** Restart or interrupt the shared kernel, once the user said yes. */
  async confirmAndAct(action: 'interrupt' | 'restart'): Promise<void> {
    if (await confirmAction(QUESTIONS[action])) await this.action(action);
  }

  /** Tell the user when someone else restarted or interrupted the kernel. */
  showAction(server: ServerPresence): void {
    if (!this.room.hasServerPresence()) return; // not heard yet: what it holds is old news
    const action = server.kernelAction;
    const key = action ? `${action.action}@${action.at}` : '';
    const before = this.lastAction;
    this.lastAction = key;
    if (before === undefined || key === before || !action || action.by.username === this.myUsername) return;
    toast(describeAction(action));
  }

  /** Put the shared kernel on `name` once the user said yes, then `write` the notebook's
   * metadata (by the caller; not when the change failed, so that the two agree); false
   * when they said no. */
  async confirmAndChange(name: string, displayName: string, write: () => void): Promise<boolean> {
    if (!await confirmAction({ ...QUESTIONS.change, title: `Change the kernel to ${displayName} for everyone?` })) return false;
    try {
      const changed = await this.runner.changeKernel(name);
      write();
      toast(changed ? `Kernel changed to ${displayName}` : `The notebook will run on ${displayName}`);
    } catch (err) {
      toast(`Could not change the kernel: ${message(err)}`, 'error');
    }
    return true;
  }

  async action(action: 'interrupt' | 'restart'): Promise<void> {
    try {
      const done = await (action === 'interrupt' ? this.runner.interrupt() : this.runner.restart());
      toast(!done ? 'No kernel is running' : action === 'interrupt' ? 'Kernel interrupted' : 'Kernel restarted');
    } catch (err) {
      toast(`Could not ${action}: ${message(err)}`, 'error');
    }
  }

  async cancel(requestId: RequestId): Promise<void> {
    await this.runner.cancel(requestId)
      .then(() => toast('Run cancelled'))
      .catch((err: unknown) => toast(`Could not cancel: ${message(err)}`, 'error'));
  }

  async answer(requestId: RequestId, value: string): Promise<void> {
    await this.runner.answer(requestId, value)
      .catch((err: unknown) => toast(`Could not send the input: ${message(err)}`, 'error'));
  }
}

/** The kernel the notebook names (`metadata.kernelspec.name`), python3 when it names none. */
export function kernelName(notebook: YNotebook): string {
  const spec = notebook.getMetadata('kernelspec') as { name?: unknown } | undefined;
  return typeof spec?.name === 'string' && spec.name ? spec.name : 'python3';
}

function describeAction(action: KernelAction): string {
  return action.action === 'restart' ? `${action.by.displayName} restarted the kernel`
    : `${action.by.displayName} interrupted the kernel`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
