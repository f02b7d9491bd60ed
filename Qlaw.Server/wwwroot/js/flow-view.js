// The run as a conversation between agents: one card per agent turn with its tool calls and streamed text, and an
// arrow for every handoff (→), consult (⇢, pushes the caller on the origin stack) and return (↩, pops it).

import { agentChip, agentColor, formatDuration, formatJson, h } from './dom.js';

const ARROWS = { handoff: '→', consult: '⇢', return: '↩' };

/** Renders the model's items into `list`, creating elements for new items and updating changed ones. */
export function renderFlow(list, model) {
  const elements = list.children;
  for (let i = 0; i < model.items.length; i++) {
    const item = model.items[i];
    const key = `${i}-${item.kind}-${item.step ?? ''}-${item.attempt ?? ''}`;
    if (i < elements.length && elements[i].dataset.key === key) {
      if (item.kind === 'turn') {
        updateTurn(elements[i], item);
      }

      continue;
    }

    while (elements.length > i) {
      elements[elements.length - 1].remove();
    }

    const element = create(item);
    element.dataset.key = key;
    list.append(element);
  }

  while (elements.length > model.items.length) {
    elements[elements.length - 1].remove();
  }
}

function create(item) {
  switch (item.kind) {
    case 'turn':
      return updateTurn(turnCard(item), item);
    case 'transition':
      return transition(item);
    case 'request':
      return h('li', { class: 'note request', testid: 'input-request' }, agentChip(item.agent), ' asks: ', h('strong', null, item.prompt));
    case 'input':
      return h('li', { class: 'note user-input', testid: 'user-input' }, h('span', { class: 'agent user' }, 'you'), ' ', item.text);
    case 'decision':
      return h('li', { class: `note tool-decision ${item.approved ? 'approved' : 'denied'}`, testid: 'tool-decision', dataset: { approved: item.approved } },
        h('span', { class: 'agent user' }, 'you'), item.approved ? ' approved ' : ' denied ', h('code', null, item.tool), item.reason ? `: ${item.reason}` : '');
    case 'output':
      return h('li', { class: 'note output', testid: 'output' }, 'Result from ', agentChip(item.agent), h('pre', null, item.text));
    default:
      return h('li', { class: 'note failure', testid: 'run-error' },
        item.deadLettered ? 'Dead-lettered (retries exhausted; Continue retries the turn): ' : 'Error: ', item.message);
  }
}

function turnCard(item) {
  const card = h('li', { class: 'turn', testid: 'turn', dataset: { agent: item.agent, step: item.step, attempt: item.attempt } },
    h('header', null,
      agentChip(item.agent),
      h('span', { class: 'meta' }, `step ${item.step}`, item.attempt > 1 ? ` · attempt ${item.attempt}` : ''),
      h('span', { class: 'decision' }),
      h('span', { class: 'duration' }),
      h('button', { type: 'button', class: 'small fork-from', testid: 'fork-from', title: 'Fork a new run from this step', hidden: true }, 'Fork from here')),
    h('ol', { class: 'tools', testid: 'tool-calls' }),
    h('pre', { class: 'text', testid: 'turn-text' }));
  card.style.setProperty('--agent', agentColor(item.agent));
  return card;
}

function updateTurn(card, item) {
  card.dataset.status = item.status;
  const text = card.querySelector('.text');
  if (text.textContent !== item.text) {
    text.textContent = item.text;
  }

  card.querySelector('.decision').textContent = decisionText(item);
  card.querySelector('.duration').textContent = item.durationMs != null ? formatDuration(item.durationMs) : '';
  card.querySelector('.fork-from').hidden = item.status !== 'completed';
  renderToolCalls(card.querySelector('.tools'), item);
  return card;
}

// The turn's tool calls, drawn again when one of them changes (they change a few times per call, not per token).
function renderToolCalls(list, turn) {
  const calls = turn.tools ?? [];
  const key = calls.map(c => `${c.callId}:${c.status}:${c.decision?.approved ?? ''}`).join() + `|${turn.status}`;
  if (list.dataset.key !== key) {
    list.dataset.key = key;
    list.replaceChildren(...calls.map(call => toolCall(call, turn.status)));
  }
}

function toolCall(call, turnStatus) {
  // A call still running in an attempt that ended was cut off; the next attempt decides what becomes of it.
  const status = call.status === 'running' && turnStatus !== 'running' ? 'cut_off' : call.status;
  return h('li', { class: 'tool-call', testid: 'tool-call', dataset: { tool: call.tool, callId: call.callId, status, error: call.isError === true } },
    h('span', { class: 'tool-name', testid: 'tool-name' }, '⚙ ', call.tool),
    h('code', { class: 'tool-args', testid: 'tool-args', title: formatJson(call.arguments, 2) }, formatJson(call.arguments)),
    h('span', { class: 'tool-status', testid: 'tool-status' }, toolStatusText(call, status)),
    call.reason ? h('span', { class: 'reason' }, call.reason) : null,
    call.result != null ? h('pre', { class: 'tool-result', testid: 'tool-result' }, call.result,
      call.resultChars > call.result.length ? `\n… (${call.result.length} of ${call.resultChars} characters)` : '') : null);
}

function toolStatusText(call, status) {
  const decided = call.decision ? `${call.decision.approved ? 'approved' : 'denied'}${call.decision.reason ? `: ${call.decision.reason}` : ''}` : null;
  switch (status) {
    case 'completed':
      return `${call.isError ? 'error' : 'ok'} · ${formatDuration(call.durationMs)}`;
    case 'awaiting_approval':
      return decided ?? 'awaiting approval';
    case 'uncertain':
      return decided ?? 'cut off by a crash: awaiting a decision';
    case 'cut_off':
      return 'cut off';
    default:
      return 'running…';
  }
}

// Why a turn waits for its model (ModelWaitingEvent): a full endpoint, or the provider's quota.
const WAITS = {
  calls: endpoint => `waiting for its model (every call to ${endpoint} is taken)…`,
  rate_limit: endpoint => `waiting for its model (${endpoint}'s quota)…`,
  retry_after: (endpoint, waiting) => `waiting for its model (${endpoint} answered ${waiting.status}; again in ${formatDuration(waiting.waitMs ?? 0)})…`,
};

function decisionText(item) {
  switch (item.status) {
    case 'running':
      return item.waiting ? (WAITS[item.waiting.reason] ?? WAITS.calls)(item.waiting.endpoint, item.waiting) : 'streaming…';
    case 'failed':
      return `failed${item.transient ? ' (transient)' : ''}: ${item.error ?? ''}`;
    case 'superseded':
      return 'superseded by a retry';
    default:
      return (item.decision ? `${item.decision.replaceAll('_', ' ')}${item.target ? ` ${item.target}` : ''}` : 'done')
        + (item.truncated ? ' (the answer was cut at the token limit and continued)' : '');
  }
}

function transition(item) {
  const stack = item.stack.length ? `stack: ${item.stack.join(' › ')}` : 'stack empty';
  return h('li', {
    class: `transition kind-${item.transition}`,
    testid: 'transition',
    dataset: { kind: item.transition, from: item.from, to: item.to, depth: item.depth },
  },
  agentChip(item.from), h('span', { class: 'arrow', 'aria-hidden': 'true' }, ARROWS[item.transition] ?? '→'), agentChip(item.to),
  h('span', { class: 'kind' }, item.transition, item.requested ? ' (requested)' : ''),
  h('span', { class: 'depth' }, `depth ${item.depth} · ${stack}`),
  item.reason ? h('span', { class: 'reason' }, item.reason) : null);
}
