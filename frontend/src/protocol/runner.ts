/**
 * Running a notebook's cells: which kernel is the notebook's (Jupyter's session for its
 * path, started on the first run), and Huddle's execute / interrupt / restart / input routes.
 * Errors are thrown for the page to show.
 */
import type { DocumentId, KernelId, RequestId } from '../logic/ids';
import { ApiError } from './http';
import type { CellToRun, KernelsApi } from './kernels';

export interface RunTarget {
  path: string;
  fileId: string;
  documentId: DocumentId;
}

export class NotebookRunner {
  private kernelId: KernelId | null = null;
  /** Kernels this page put the notebook off (a kernel change): the server's presence may
   * name one until the notebook next runs, and must not bring it back. */
  private readonly replaced = new Set<KernelId>();

  constructor(
    private readonly kernels: KernelsApi,
    private readonly target: RunTarget,
    private readonly kernelName: () => string,
  ) {}

  /** Whether this user may list Jupyter's sessions (guests may not): without it, no
   * kernel found says nothing. */
  get knowsSessions(): boolean {
    return this.kernels.sessions;
  }

  get kernel(): KernelId | null {
    return this.kernelId;
  }

  /** The server's presence names the kernel the notebook's runs go to. */
  adopt(kernelId: KernelId): void {
    if (!this.replaced.has(kernelId)) this.kernelId = kernelId;
  }

  /** Put the notebook on a new kernel of `name` (the old one is shut down). False when
   * nothing was running: the next run starts the kernel the metadata names. */
  async changeKernel(name: string): Promise<boolean> {
    const { path, fileId } = this.target;
    const next = await this.kernels.changeKernel(path, fileId, name);
    if (!next) return false;
    if (this.kernelId && this.kernelId !== next) this.replaced.add(this.kernelId);
    this.kernelId = next;
    return true;
  }

  /** The notebook's kernel if it already has one (none is started). */
  async find(): Promise<KernelId | null> {
    this.kernelId = await this.kernels.existingKernel(this.target.path, this.target.fileId);
    return this.kernelId;
  }

  private async ensure(onStart: () => void): Promise<KernelId> {
    if (this.kernelId) return this.kernelId;
    onStart();
    const { path, fileId, documentId } = this.target;
    this.kernelId = await this.kernels.ensureKernel(path, fileId, this.kernelName(), documentId);
    return this.kernelId;
  }

  /** Queues `cells` in order (one batch: an error stops the rest). */
  async run(cells: CellToRun[], onStart: () => void = () => {}, retried = false): Promise<void> {
    if (!cells.length) return;
    try {
      await this.kernels.execute(await this.ensure(onStart), this.target.documentId, cells);
    } catch (err) {
      const kernelChanged = err instanceof ApiError && (err.status === 404 || err.status === 409) && /kernel/i.test(err.message);
      if (!kernelChanged || retried) throw err;
      this.kernelId = null; // the session's kernel changed or is gone: ask again, once
      await this.run(cells, onStart, true);
    }
  }

  /** False when there is no kernel to act on. */
  async interrupt(): Promise<boolean> {
    if (!this.kernelId) return false;
    await this.kernels.interrupt(this.kernelId);
    return true;
  }

  async restart(): Promise<boolean> {
    if (!this.kernelId) return false;
    await this.kernels.restart(this.kernelId);
    return true;
  }

  async cancel(requestId: RequestId): Promise<void> {
    await this.kernels.cancel(requestId);
  }

  async answer(requestId: RequestId, value: string): Promise<void> {
    await this.kernels.answerInput(requestId, value);
  }
}
