/** A question before an action that affects everyone (restarting the shared kernel): a
 * modal dialog in the app's style, answered with the action's own button or Cancel
 * (Escape); Cancel has the focus, so Enter alone does nothing harmful. */
import { h } from './dom';

export interface Question {
  title: string;
  text: string;
  /** The confirming button's label ("Restart"). */
  action: string;
}

let open: HTMLDialogElement | null = null;

export function confirmAction(question: Question): Promise<boolean> {
  open?.close();
  return new Promise((resolve) => {
    let answer = false;
    const dialog = h('dialog', { className: 'hd-dialog hd-confirm', 'aria-labelledby': 'hd-confirm-title', 'aria-describedby': 'hd-confirm-text' },
      h('h2', { id: 'hd-confirm-title' }, question.title),
      h('p', { id: 'hd-confirm-text' }, question.text),
      h('div', { className: 'hd-dialog-buttons' },
        h('button', { type: 'button', className: 'hd-danger', onclick: () => { answer = true; dialog.close(); } }, question.action),
        h('button', { type: 'button', className: 'hd-confirm-cancel', onclick: () => dialog.close() }, 'Cancel')));
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (open === dialog) open = null;
      resolve(answer);
    });
    document.body.append(dialog);
    open = dialog;
    dialog.showModal();
    dialog.querySelector<HTMLButtonElement>('.hd-confirm-cancel')?.focus();
  });
}
