/**
 * JupyterLab on Huddle: a cell run on the server is trusted, as a cell run by Lab itself is.
 *
 * Lab renders an output's rich MIME types (a widget view, HTML, JavaScript) only when the
 * output is trusted, and its own executor marks the cell it runs trusted
 * (`CodeCellModel.clearExecution`). jupyter-docprovider's server-side executor only POSTs
 * `api/kernels/{id}/execute`, so the outputs stayed untrusted: a widget showed as its text
 * repr (upstream, the same bug: jupyter-server-documents issue 307). Huddle's server writes
 * `metadata.trusted = true` into the shared cell when it starts a run that someone allowed
 * to execute asked for, but a cell model reads that flag only when it is created: pages
 * already open (the runner's and every collaborator's) would never see it. See
 * docs/WIDGETS.md.
 */

import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { ICellModel } from '@jupyterlab/cells';
import { INotebookTracker, NotebookActions, type NotebookPanel } from '@jupyterlab/notebook';
import type { IObservableList } from '@jupyterlab/observables';

import { openInHuddle } from './open-in-huddle';

/** Trust the cell once its shared metadata says it is trusted. Lab's `trusted` setter
 * marks the outputs trusted (re-rendering them) and does nothing when already trusted.
 * Never the other way: only Lab's own commands untrust a cell. */
function followSharedTrust(cell: ICellModel): void {
  if (cell.getMetadata('trusted') === true) {
    cell.trusted = true;
  }
}

function watchCell(cell: ICellModel): void {
  if (cell.type === 'code') {
    // Connections on a model end when Lab disposes of it.
    cell.metadataChanged.connect(followSharedTrust);
    followSharedTrust(cell);
  }
}

function onCellsChanged(_: unknown, change: IObservableList.IChangedArgs<ICellModel>): void {
  if (change.type === 'add' || change.type === 'set') {
    change.newValues.forEach(watchCell);
  }
}

function watchNotebook(panel: NotebookPanel): void {
  void panel.context.ready.then(() => {
    const cells = panel.content.model?.cells;
    if (cells === undefined || panel.isDisposed) {
      return;
    }
    cells.changed.connect(onCellsChanged);
    for (const cell of cells) {
      watchCell(cell);
    }
  });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-huddle-lab:trust-server-runs',
  description: 'Marks a code cell trusted when it runs through the server-side executor.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker): void => {
    tracker.forEach(watchNotebook);
    tracker.widgetAdded.connect((_, panel) => watchNotebook(panel));
    // On the runner's page, before the run is posted (the docprovider's executor emits
    // this too): its outputs are trusted from the first one, as with Lab's own executor.
    NotebookActions.executionScheduled.connect((_, { cell }) => {
      if (cell.model.type === 'code') {
        cell.model.trusted = true;
      }
    });
  }
};

export default [plugin, openInHuddle];
