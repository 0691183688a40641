/**
 * One file uploaded into a folder through the contents API, piece by piece
 * (logic/upload-plan.ts), one request at a time: the page reads only the piece it sends,
 * so neither the browser nor the server holds the whole file.
 */
import { Emitter } from '../logic/emitter';
import { uploadPlan } from '../logic/upload-plan';
import type { ContentsApi } from './contents';

export type UploadState = 'waiting' | 'uploading' | 'done' | 'cancelling' | 'cancelled' | 'failed';

/** A piece of the file as base64 (the browser's own encoder, via a data: URL). */
export function readBase64(piece: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(reader.error ?? new Error('could not read the file'));
    reader.readAsDataURL(piece);
  });
}

export class Upload {
  state: UploadState = 'waiting';
  /** Bytes the server has written. */
  sent = 0;
  error = '';
  /** After every piece and every change of state. */
  readonly changed = new Emitter<void>();
  private cancelRequested = false;

  constructor(
    private readonly contents: ContentsApi,
    readonly file: Blob,
    readonly name: string,
    /** Where it goes (the folder and the name). */
    readonly path: string,
    private readonly encode: (piece: Blob) => Promise<string> = readBase64,
  ) {}

  get size(): number {
    return this.file.size;
  }

  /** Sends the pieces in order; resolves when done, cancelled or failed (see `state`). */
  async run(): Promise<void> {
    if (this.cancelRequested) return this.set('cancelled');
    this.set('uploading');
    let written = false;
    try {
      for (const piece of uploadPlan(this.file.size)) {
        // Cancel waits for the piece in flight: a piece the server wrote after the
        // partial file was deleted would create it again (later chunks append).
        if (this.cancelRequested) break;
        const content = await this.encode(this.file.slice(piece.start, piece.end));
        written = true;
        await this.contents.savePiece(this.path, content, piece.chunk);
        this.sent = piece.end;
        this.changed.emit();
      }
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
      if (written) await this.removePartial();
      return this.set('failed');
    }
    if (!this.cancelRequested) return this.set('done');
    if (written) await this.removePartial();
    this.set('cancelled');
  }

  /** Stops after the piece in flight and deletes what was written. */
  cancel(): void {
    if (this.state === 'done' || this.state === 'failed' || this.state === 'cancelled') return;
    this.cancelRequested = true;
    this.set(this.state === 'waiting' ? 'cancelled' : 'cancelling');
  }

  private async removePartial(): Promise<void> {
    try {
      await this.contents.remove(this.path);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.error = this.error ? `${this.error}; the partial file stays: ${reason}` : `the partial file stays: ${reason}`;
    }
  }

  private set(state: UploadState): void {
    this.state = state;
    this.changed.emit();
  }
}
