// Continue, handoff and cancel for the run on screen (POST /v1/runs/{id}/continue | handoff | cancel), and Approve / Deny
// when the run waits on a person's decision about tool calls (continue with `approve`). Each is enabled only when the
// API would accept it; a refusal (problem+json) is shown as the API worded it.

import { agentChip, formatJson, h } from './dom.js';

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
  const approval = approvalForm(run);
  container.replaceChildren(approval.form, continueForm, handoffForm, cancelButton, message);
  return { input, target, continueForm, continueButton, handoffButton, cancelButton, approval, agents: '' };
}

// The calls a person decides on, with Approve, and Deny with an optional reason the agent is told.
function approvalForm(run) {
  const calls = h('ul', { class: 'approval-calls', testid: 'approval-calls' });
  const reason = h('input', { name: 'deny_reason', testid: 'deny-reason', placeholder: 'reason for a denial (optional)', autocomplete: 'off' });
  const approve = h('button', { type: 'button', testid: 'approve' }, 'Approve');
  const deny = h('button', { type: 'button', class: 'danger', testid: 'deny' }, 'Deny');
  // Not a form: Enter in the reason must not approve.
  const form = h('div', { class: 'approval', testid: 'approval-form', role: 'group', 'aria-label': 'Tool calls awaiting a decision', hidden: true },
    calls, h('div', { class: 'control' }, approve, deny, reason));
  approve.addEventListener('click', () => run(approve, 'continue', { approve: true }, 'Approved.'));
  deny.addEventListener('click', () => {
    run(deny, 'continue', { approve: false, reason: reason.value.trim() || undefined }, 'Denied.').then(sent => {
      if (sent) {
        reason.value = '';
      }
    });
  });
  return { form, calls, key: '' };
}

function approvalCall(call) {
  const question = call.status === 'uncertain'
    ? ['’s call ', h('strong', null, call.tool), ' was cut off by a crash; it may or may not have taken effect. Run it again?']
    : [' wants to call ', h('strong', null, call.tool), call.reason ? ` (${call.reason})` : '', ':'];
  return h('li', { testid: 'approval-call', dataset: { tool: call.tool, callId: call.callId } },
    agentChip(call.agent), ...question, h('pre', { class: 'tool-args', testid: 'approval-args' }, formatJson(call.arguments, 2)));
}


/**
 * Enables what the run's state allows, lists the workflow's agents as handoff targets, and offers Approve / Deny in
 * place of the answer box while the run waits on `awaiting` tool calls.
 */
export function renderControls(controls, { status, completedAt, workflow, current, awaiting }) {
  const deciding = status === 'awaiting_input' && awaiting.length > 0;
  const key = deciding ? awaiting.map(call => `${call.callId}:${call.status}`).join() : '';
  if (key !== controls.approval.key) {
    controls.approval.key = key;
    controls.approval.calls.replaceChildren(...(deciding ? awaiting.map(approvalCall) : []));
  }

  controls.approval.form.hidden = !deciding;
  controls.continueForm.hidden = deciding;

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
