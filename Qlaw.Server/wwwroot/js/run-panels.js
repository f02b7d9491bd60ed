// The side panels of a run: the origin stack and how its depth moved, the step timeline (GET /v1/runs/{id}/status)
// and the audit log (GET /v1/runs/{id}/audit).

import { agentChip, agentColor, formatDuration, formatTime, h } from './dom.js';

const ACTIVE = { queued: ' starts soon', awaiting_input: ' waits for your input', failed: ' failed: Continue retries its turn' };

/** The active agent on top of the agents waiting for it to return, and the depth after every transition. */
export function renderStack(panel, model) {
  const frames = [...model.stack].reverse().map(agent => h('li', { class: 'frame', testid: 'stack-frame' }, agentChip(agent), ' waits for a return'));
  const active = model.currentAgent && !model.ended
    ? h('li', { class: 'frame active' }, agentChip(model.currentAgent), ACTIVE[model.status] ?? ' has control')
    : null;
  const peak = Math.max(1, ...model.depths);
  const history = h('ol', { class: 'depths', testid: 'stack-history', dataset: { depths: model.depths.join(',') }, title: 'Stack depth after each transition' },
    model.depths.map(depth => {
      const bar = h('span', { class: 'bar' });
      bar.style.setProperty('--height', `${Math.round((100 * depth) / peak)}%`);
      return h('li', { dataset: { depth } }, bar, h('span', { class: 'label' }, String(depth)));
    }));
  panel.replaceChildren(
    h('p', null, 'Depth ', h('strong', { testid: 'stack-depth' }, String(model.stack.length))),
    h('ol', { class: 'stack', testid: 'stack' }, active, frames, model.stack.length === 0 ? h('li', { class: 'frame empty' }, 'no origin waiting') : null),
    h('p', { class: 'hint' }, 'Depth after each transition'),
    history);
}

/** One row per step attempt, with a bar placed on the run's time axis. */
export function renderTimeline(table, status) {
  const steps = status?.steps ?? [];
  // A fork's first steps are its source's, begun before the fork itself.
  const origin = Math.min(Date.parse(status?.started_at ?? status?.created_at ?? steps[0]?.started_at ?? 0), ...steps.map(s => Date.parse(s.started_at)));
  const ends = steps.map(s => Date.parse(s.completed_at ?? new Date().toISOString()));
  const span = Math.max(1, ...ends.map(end => end - origin));
  const rows = steps.map(step => {
    const start = Date.parse(step.started_at) - origin;
    const bar = h('span', { class: 'bar' });
    bar.style.setProperty('--agent', agentColor(step.agent));
    bar.style.setProperty('--left', `${(100 * start) / span}%`);
    bar.style.setProperty('--width', `${Math.max(0.5, (100 * (step.duration_ms ?? (Date.now() - Date.parse(step.started_at)))) / span)}%`);
    return h('tr', { testid: 'step-row', dataset: { agent: step.agent, status: step.status, step: step.index } },
      h('td', null, String(step.index)),
      h('td', null, agentChip(step.agent)),
      h('td', null, String(step.attempt)),
      h('td', { class: `status-${step.status}` }, step.status),
      h('td', { class: 'num' }, `+${formatDuration(start)}`),
      h('td', { class: 'num', testid: 'step-duration' }, formatDuration(step.duration_ms)),
      h('td', { class: 'gantt', title: step.error ?? '' }, bar));
  });
  table.replaceChildren(
    h('thead', null, h('tr', null, ['#', 'agent', 'try', 'status', 'start', 'duration', ''].map(c => h('th', null, c)))),
    h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: 7, class: 'hint' }, 'No step yet.'))));
}

/** The audit entries in order: what happened, when, and its detail. */
export function renderAudit(table, entries) {
  table.replaceChildren(
    h('thead', null, h('tr', null, ['time', 'type', 'detail'].map(c => h('th', null, c)))),
    h('tbody', null, entries.map(entry => h('tr', { testid: 'audit-row', dataset: { type: entry.type } },
      h('td', { class: 'num' }, formatTime(entry.created_at)),
      h('td', null, h('code', null, entry.type)),
      h('td', { class: 'detail' }, summarize(entry.detail))))));
}

function summarize(detail) {
  return Object.entries(detail ?? {})
    .filter(([, value]) => value != null && value !== '')
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : value}`)
    .join('  ');
}
