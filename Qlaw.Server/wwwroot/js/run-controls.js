// Continue, handoff and cancel for the run on screen (POST /v1/runs/{id}/continue | handoff | cancel). Each is enabled
// only when the API would accept it; a refusal (problem+json) is shown as the API worded it.

import { h } from './dom.js';

/** Builds the controls into `container`; `send(action, body)` performs a command and rejects with a readable error. */
export function runControls(container, { send }) {
  const input = h('input', { name: 'input', testid: 'continue-input', placeholder: 'Your answer, or leave empty to retry', autocomplete: 'off' });
  const target = h('select', { name: 'to_agent', testid: 'handoff-agent', 'aria-label': 'Hand off to' });
  const withReturn = h('input', { type: 'checkbox', name: 'with_return', testid: 'handoff-with-return' });
  const reason = h('input', { name: 'reason', testid: 'handoff-reason', placeholder: 'reason (optional)', autocomplete: 'off' });
  const message = h('p', { class: 'command-message', testid: 'command-message', role: 'status' });
  const run = async (button, action, body, done) => {
    button.disabled = true;
    message.textContent = '';
    message.classList.remove('error');
    try {
      await send(action, body);
      message.textContent = done;
      return true;
    } catch (error) {
      message.textContent = error.message;
      message.classList.add('error');
      return false;
    } finally {
      button.disabled = false;
    }
  };

  const continueButton = h('button', { type: 'submit', testid: 'continue' }, 'Continue');
  const handoffButton = h('button', { type: 'submit', testid: 'handoff' }, 'Hand off');
  const cancelButton = h('button', { type: 'button', class: 'danger', testid: 'cancel' }, 'Cancel run');
  const continueForm = h('form', { class: 'control', testid: 'continue-form' }, input, continueButton);
  continueForm.addEventListener('submit', event => {
    event.preventDefault();
    const text = input.value.trim();
    run(continueButton, 'continue', text ? { input: text } : {}, 'Continued.').then(sent => {
      if (sent) {
        input.value = '';
      }
    });
  });
  const handoffForm = h('form', { class: 'control', testid: 'handoff-form' },
    h('span', null, 'to'), target, h('label', null, withReturn, ' with return'), reason, handoffButton);
  handoffForm.addEventListener('submit', event => {
    event.preventDefault();
    const body = { to_agent: target.value, with_return: withReturn.checked, reason: reason.value.trim() || undefined };
    run(handoffButton, 'handoff', body, `Handoff to ${target.value} requested: it applies at the next turn boundary.`);
  });
  cancelButton.addEventListener('click', () => run(cancelButton, 'cancel', undefined, 'Cancelled.'));
  container.replaceChildren(continueForm, handoffForm, cancelButton, message);
  return { input, target, continueButton, handoffButton, cancelButton, agents: '' };
}

/** Enables what the run's state allows and lists the workflow's agents as handoff targets. */
export function renderControls(controls, { status, completedAt, workflow, current }) {
  const agents = (workflow?.config?.agents ?? []).map(agent => agent.name).filter(name => name !== current);
  if (agents.join() !== controls.agents) {
    const chosen = controls.target.value;
    controls.agents = agents.join();
    controls.target.replaceChildren(...agents.map(name => h('option', { value: name }, name)));
    if (agents.includes(chosen)) {
      controls.target.value = chosen;
    }
  }

  const ended = status === 'completed' || status === 'cancelled' || (status === 'failed' && completedAt != null);
  controls.continueButton.disabled = !(status === 'awaiting_input' || (status === 'failed' && completedAt == null));
  controls.input.placeholder = status === 'awaiting_input' ? 'Your answer'
    : status === 'failed' && completedAt == null ? 'Input (optional), then retry the failed turn' : 'Continue answers a question or retries a failure';
  controls.handoffButton.disabled = ended || status === 'loading' || controls.target.options.length === 0;
  controls.cancelButton.disabled = ended || status === 'loading';
}
