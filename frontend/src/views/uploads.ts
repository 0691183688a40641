/**
 * Uploads into the Files page's folder: the Upload button (a file input), dropping files
 * on the page, and a list of uploads, each with its progress bar and Cancel. Files go one
 * after another (protocol/uploads.ts sends each in pieces).
 */
import { formatBytes } from '../logic/upload-plan';
import type { ContentsApi } from '../protocol/contents';
import { Upload } from '../protocol/uploads';
import { h, toast } from './dom';

export interface UploadDeps {
  contents: ContentsApi;
  /** The folder's path ("" for the root). */
  dir: string;
  /** Whether the folder already holds something of that name. */
  exists(name: string): boolean;
  /** A file arrived: list the folder again. */
  uploaded(): void;
}

export class UploadPanel {
  readonly element = h('ul', { className: 'hd-uploads', 'aria-label': 'Uploads' });
  /** The file input (hidden; the button opens it) beside the Upload button. */
  readonly input = h('input', { type: 'file', multiple: true, hidden: true, className: 'hd-upload-input', 'aria-label': 'Files to upload' });
  readonly button = h('button', { type: 'button', className: 'hd-upload-button', title: 'Upload files into this folder (or drop them on the page)' }, '⇪ Upload');
  private readonly active = new Set<Upload>();
  private queue: Promise<void> = Promise.resolve();
  private readonly warnOnLeave = (event: BeforeUnloadEvent): void => {
    if (this.active.size) event.preventDefault();
  };

  constructor(private readonly deps: UploadDeps) {
    this.button.addEventListener('click', () => this.input.click());
    this.input.addEventListener('change', () => {
      this.add([...(this.input.files ?? [])]);
      this.input.value = ''; // the same file again is a new choice
    });
    window.addEventListener('beforeunload', this.warnOnLeave);
  }

  /** Files dropped on `zone` are uploaded; the zone is marked while files are over it. */
  dropZone(zone: HTMLElement): void {
    const carriesFiles = (event: DragEvent): boolean => event.dataTransfer?.types.includes('Files') ?? false;
    zone.addEventListener('dragover', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer!.dropEffect = 'copy';
      zone.classList.add('hd-drop-target');
    });
    zone.addEventListener('dragleave', (event) => {
      if (!zone.contains(event.relatedTarget as Node | null)) zone.classList.remove('hd-drop-target');
    });
    zone.addEventListener('drop', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      zone.classList.remove('hd-drop-target');
      this.add(droppedFiles(event.dataTransfer!));
    });
  }

  add(files: File[]): void {
    for (const file of files) this.offer(file);
  }

  /** Leaving the page ends its uploads (their partial files are deleted). */
  destroy(): void {
    window.removeEventListener('beforeunload', this.warnOnLeave);
    for (const upload of this.active) upload.cancel();
  }

  /** Uploads the file, after asking first when it would replace one of the same name. */
  private offer(file: File): void {
    const path = this.deps.dir ? `${this.deps.dir}/${file.name}` : file.name;
    const upload = new Upload(this.deps.contents, file, file.name, path);
    this.active.add(upload);
    const row = this.row(upload);
    this.element.append(row);
    if (!this.deps.exists(file.name)) return this.enqueue(upload, row);
    const actions = row.querySelector<HTMLElement>('.hd-upload-actions')!;
    actions.replaceChildren(
      h('span', {}, `${file.name} exists. `),
      h('button', { type: 'button', className: 'hd-danger', onclick: () => this.enqueue(upload, row) }, 'Replace'),
      h('button', { type: 'button', onclick: () => { this.active.delete(upload); row.remove(); } }, 'Skip'));
  }

  private enqueue(upload: Upload, row: HTMLElement): void {
    row.querySelector<HTMLElement>('.hd-upload-actions')!.replaceChildren(
      h('button', { type: 'button', 'aria-label': `Cancel uploading ${upload.name}`, onclick: () => upload.cancel() }, 'Cancel'));
    this.queue = this.queue.then(() => this.finish(upload, row));
  }

  private async finish(upload: Upload, row: HTMLElement): Promise<void> {
    await upload.run();
    this.active.delete(upload);
    if (upload.state === 'done') {
      row.remove();
      toast(`Uploaded ${upload.name}`);
      this.deps.uploaded();
    } else if (upload.state === 'cancelled') {
      row.remove();
      toast(`Upload of ${upload.name} cancelled${upload.error ? `: ${upload.error}` : ''}`, upload.error ? 'error' : 'info');
      this.deps.uploaded();
    } else {
      row.querySelector<HTMLElement>('.hd-upload-actions')!.replaceChildren(
        h('button', { type: 'button', onclick: () => row.remove() }, 'Dismiss'));
      this.deps.uploaded();
    }
  }

  private row(upload: Upload): HTMLElement {
    const bar = h('progress', { max: String(Math.max(upload.size, 1)), value: '0', 'aria-label': `Uploading ${upload.name}` });
    const status = h('span', { className: 'hd-upload-status' });
    const show = (): void => {
      bar.value = upload.size ? upload.sent : upload.state === 'done' ? 1 : 0;
      status.textContent = describe(upload);
    };
    upload.changed.on(show);
    show();
    return h('li', { className: 'hd-upload', 'data-name': upload.name },
      h('span', { className: 'hd-upload-name' }, upload.name), bar, status,
      h('span', { className: 'hd-upload-actions' }));
  }
}

function describe(upload: Upload): string {
  const of = `${formatBytes(upload.sent)} of ${formatBytes(upload.size)}`;
  switch (upload.state) {
    case 'waiting': return `Waiting · ${formatBytes(upload.size)}`;
    case 'uploading': return of;
    case 'cancelling': return `Cancelling · ${of}`;
    case 'cancelled': return 'Cancelled';
    case 'done': return 'Uploaded';
    case 'failed': return `Failed: ${upload.error}`;
  }
}

/** The files of a drop; folders are not uploaded (said in a toast). */
function droppedFiles(data: DataTransfer): File[] {
  const files: File[] = [];
  const items = [...data.items].filter((item) => item.kind === 'file');
  for (const item of items) {
    const entry = item.webkitGetAsEntry?.();
    const file = item.getAsFile();
    if (entry?.isDirectory) toast(`${entry.name} is a folder: upload the files in it`, 'error');
    else if (file) files.push(file);
  }
  return items.length ? files : [...data.files];
}
