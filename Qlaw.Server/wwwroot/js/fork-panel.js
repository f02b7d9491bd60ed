// "Fork from here": a completed step of the run on screen, an optional new instruction for the agent after it, and
// POST /v1/runs/{id}/fork. The new run opens in place of this one.

import { agentChip, h } from './dom.js';

/** Builds the (hidden) panel into `container`; `fork(step, input)` forks and rejects with a readable error. */
export function forkPanel(container, { fork }) {
  let step = null;
  const title = h('span', { testid: 'fork-title' });
  const input = h('textarea', { name: 'input', rows: 2, testid: 'fork-input', placeholder: 'A new instruction for the next agent (optional)' });
  const submit = h('button', { type: 'submit', testid: 'fork-submit' }, 'Fork');
  const close = h('button', { type: 'button', class: 'small', testid: 'fork-cancel' }, 'Close');
  const message = h('p', { class: 'error', role: 'alert', testid: 'fork-error' });
  const form = h('form', { class: 'fork-panel', testid: 'fork-panel', hidden: true },
    h('p', null, title), input, h('div', { class: 'fork-actions' }, submit, close), message);
  form.addEventListener('submit', async event => {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = '';
    try {
      const text = input.value.trim();
      await fork(step, text || undefined);
      form.hidden = true;
    } catch (error) {
      message.textContent = error.message;
    } finally {
      submit.disabled = false;
    }
  });
  close.addEventListener('click', () => {
    form.hidden = true;
  });
  container.replaceChildren(form);
  return {
    /** Offers a fork after `turn` (a completed turn of the run model). */
    open(turn) {
      step = turn.step;
      title.replaceChildren('Fork a new run from step ', String(turn.step), ' (', agentChip(turn.agent), '): it keeps steps 0–',
        String(turn.step), ' and goes on from there.');
      input.value = '';
      message.textContent = '';
      form.hidden = false;
      input.focus();
    },
  };
}
