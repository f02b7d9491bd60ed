// The parts of a run's page, created once per run shown; run-view.js fills them.

import { h } from './dom.js';

/** The run's elements by name, and `root`, the article that holds them. */
export function runLayout(runId) {
  const ui = {
    status: h('span', { class: 'badge', testid: 'run-status' }, 'loading'),
    workflow: h('span', { testid: 'run-workflow' }),
    agent: h('span', { testid: 'current-agent' }),
    streamState: h('span', { class: 'stream-state', testid: 'stream-state' }, 'closed'),
    error: h('p', { class: 'error', role: 'alert' }),
    controls: h('div', { class: 'controls' }),
    lineage: h('span', { class: 'lineage', testid: 'lineage' }),
    fork: h('div', { class: 'fork' }),
    graph: h('div', { class: 'graph-panel', testid: 'graph' }),
    flow: h('ol', { class: 'flow', testid: 'flow' }),
    stack: h('div', { class: 'stack-panel', testid: 'stack-panel' }),
    timeline: h('table', { class: 'timeline', testid: 'timeline' }),
    audit: h('table', { class: 'audit', testid: 'audit' }),
  };
  ui.root = h('article', { class: 'run-view', dataset: { runId } },
    h('header', { class: 'run-head' },
      h('h2', null, 'Run ', h('code', { testid: 'run-id' }, runId)),
      h('div', { class: 'facts' }, ui.status, ' workflow ', ui.workflow, ' · agent ', ui.agent, ' · stream ', ui.streamState, ui.lineage)),
    ui.controls,
    ui.fork,
    ui.error,
    h('div', { class: 'panes' },
      h('section', { class: 'pane flow-pane' }, h('h3', null, 'Agents'), ui.flow),
      h('div', { class: 'pane side-pane' },
        h('section', null, h('h3', null, 'Workflow'), ui.graph),
        h('section', null, h('h3', null, 'Origin stack'), ui.stack),
        h('section', null, h('h3', null, 'Steps'), ui.timeline),
        h('section', null, h('h3', null, 'Audit log'), h('div', { class: 'scroll' }, ui.audit)))));
  return ui;
}
