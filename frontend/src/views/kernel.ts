/**
 * The page's side of the shared kernel: running cells, interrupt and restart, cancelling a
 * queued run and answering `input()`, each reporting failures as a toast; the kernel
 * status until the server's presence says more.
 */
import type { YNotebook } from '@jupyter/ydoc';

import type { RequestId } from '../logic/ids';
import type { KernelsApi } from '../protocol/kernels';
import type { NotebookRoom } from '../protocol/room';
import { NotebookRunner } from '../protocol/runner';
import type { CellView } from './cell';
import { toast } from './dom';
import type { QueuePanel } from './queue';

export class KernelControls {
  readonly runner: NotebookRunner;

  constructor(kernels: KernelsApi, private readonly room: NotebookRoom, private readonly queue: QueuePanel) {
    this.runner = new NotebookRunner(kernels,
      { path: room.path, fileId: room.session.fileId, documentId: room.documentId }, () => kernelName(room.notebook));
  }

  /** Whether the notebook already has a kernel (a session), for the status. */
  async find(): Promise<void> {
    try {
      const kernel = await this.runner.find();
      if (!this.room.serverPresence().kernel) this.queue.setLabel(kernel ? 'Kernel: idle' : 'No kernel (starts on first run)');
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

function kernelName(notebook: YNotebook): string {
  const spec = notebook.getMetadata('kernelspec') as { name?: unknown } | undefined;
  return typeof spec?.name === 'string' && spec.name ? spec.name : 'python3';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
