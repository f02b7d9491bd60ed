// The run console: wires the sidebar and the run view to the address bar (#/runs/{id}), so a reload shows the same
// run and resumes its stream where it stopped.

import { api } from './api.js';
import { RunView } from './run-view.js';
import { Sidebar } from './sidebar.js';

let view = null;
const runPane = document.getElementById('run');
const openRun = runId => {
  location.hash = `#/runs/${runId}`;
};
const sidebar = new Sidebar({
  onStart: openRun,
  selected: () => view?.runId ?? null,
});

function selectedRunId() {
  return /^#\/runs\/([0-9a-f-]{36})$/i.exec(location.hash)?.[1] ?? null;
}

function showRun() {
  const runId = selectedRunId();
  if (view?.runId === runId) {
    return;
  }

  view?.dispose();
  view = runId
    ? new RunView(runPane, runId, {
      workflowById: id => sidebar.workflowById(id),
      onRunChanged: () => sidebar.refreshRuns(),
      openRun,
    })
    : null;
  if (!view) {
    runPane.replaceChildren(document.getElementById('empty-run').content.cloneNode(true));
  }

  sidebar.refreshRuns();
}

async function checkHealth() {
  const badge = document.getElementById('health');
  try {
    await api('/health/ready');
    badge.textContent = 'ready';
    badge.dataset.state = 'ready';
  } catch {
    badge.textContent = 'not ready';
    badge.dataset.state = 'down';
  }
}

window.addEventListener('hashchange', showRun);
window.addEventListener('pagehide', () => view?.save());
await sidebar.loadWorkflows().catch(error => {
  document.getElementById('start-error').textContent = `Could not list workflows: ${error.message}`;
});
showRun();
checkHealth();
setInterval(() => {
  if (document.visibilityState === 'visible') {
    sidebar.refreshRuns();
    checkHealth();
  }
}, 5000);
