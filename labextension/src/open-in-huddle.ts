/**
 * "Open in Huddle" on every notebook's toolbar: the way back from JupyterLab to Huddle's own
 * page for the same notebook (which links here with "Open in JupyterLab"). Both pages edit
 * the same shared document: nothing is saved or reloaded on the way.
 */

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ToolbarButton } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';

/** Huddle's page of the notebook at `path` (a server path, without Lab's drive prefix). */
export function huddleUrl(path: string): string {
  const encoded = path.split('/').map(encodeURIComponent).join('/');
  return URLExt.join(PageConfig.getBaseUrl(), 'huddle/notebooks', encoded);
}

class OpenInHuddleButton implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel> {
  createNew(panel: NotebookPanel, context: DocumentRegistry.IContext<INotebookModel>): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-HuddleOpen',
      label: 'Open in Huddle',
      tooltip: "This notebook in Huddle's app (a new tab)",
      // localPath: the path on the server, without a drive prefix such as "RTC:".
      onClick: () => window.open(huddleUrl(context.localPath), '_blank', 'noopener'),
    });
    panel.toolbar.addItem('huddle-open', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

export const openInHuddle: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-huddle-lab:open-in-huddle',
  description: "Adds 'Open in Huddle' to every notebook's toolbar.",
  autoStart: true,
  activate: (app: JupyterFrontEnd): void => {
    app.docRegistry.addWidgetExtension('Notebook', new OpenInHuddleButton());
  },
};
