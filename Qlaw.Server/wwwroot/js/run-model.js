// What a person sees of one run, built from its SSE events (GET /v1/runs/{id}/responses). Plain data, so that it can
// be kept in sessionStorage and the stream resumed after a reload from `lastEventId` alone.

/** An empty view of a run. */
export function createRunModel(runId) {
  return {
    runId,
    lastEventId: 0,
    status: null,
    currentAgent: null,
    stack: [],
    depths: [0],
    items: [],
    ended: false,
  };
}

/** Applies one SSE event (its `event:` name, parsed `data:` and `id:`) to the model; returns true when it changed. */
export function applyEvent(model, type, payload, id) {
  if (id && id <= model.lastEventId) {
    return false;
  }

  if (id) {
    model.lastEventId = id;
  }

  switch (type) {
    case 'response.output_text.delta':
      appendText(model, payload);
      return true;
    case 'response.trace.complete':
      applyTrace(model, payload?.data ?? {});
      return true;
    case 'response.completed':
      model.status = payload?.response?.status ?? 'completed';
      model.ended = model.status !== 'awaiting_input';
      return true;
    case 'response.error': {
      // The WorkflowErrorEvent just before usually said it already, with more detail.
      const message = payload?.error?.message ?? payload?.message ?? 'The run failed.';
      const last = model.items.at(-1);
      if (last?.kind !== 'error' || last.message !== message) {
        model.items.push({ kind: 'error', message });
      }

      model.status = 'failed';
      return true;
    }
    default:
      return false;
  }
}

/** Records the user's answer sent with continue, so the conversation reads in order. */
export function addUserInput(model, text) {
  model.items.push({ kind: 'input', text });
  model.status = 'running';
  model.ended = false;
}

/** The turn items in order: what the test and a reader call "agents in order". */
export function turns(model) {
  return model.items.filter(item => item.kind === 'turn');
}

/** The tool calls the run waits on a person for (approval, or a call a crash cut off), each with its agent. */
export function awaitingCalls(model) {
  return turns(model).flatMap(turn => (turn.tools ?? [])
    .filter(call => (call.status === 'awaiting_approval' || call.status === 'uncertain') && !call.decision)
    .map(call => ({ ...call, agent: turn.agent })));
}

function appendText(model, payload) {
  const step = payload.output_index;
  const turn = findLast(model.items, item => item.kind === 'turn' && item.step === step)
    ?? startTurn(model, { step, attempt: 1, agent: payload.agent });
  turn.text += payload.delta ?? '';
  turn.waiting = null;
}

function applyTrace(model, trace) {
  const data = trace.data ?? {};
  switch (trace.event_type) {
    case 'ExecutorInvokedEvent':
      for (const earlier of model.items) {
        if (earlier.kind === 'turn' && earlier.step === data.step && earlier.status === 'running') {
          earlier.status = 'superseded';
        }
      }

      startTurn(model, data);
      break;
    case 'ExecutorCompletedEvent':
      Object.assign(turnOf(model, data), {
        status: 'completed', decision: data.decision, target: data.target ?? null, durationMs: data.duration_ms ?? null,
        truncated: data.truncated === true, waiting: null,
      });
      break;
    case 'ExecutorFailedEvent':
      Object.assign(turnOf(model, data), { status: 'failed', error: data.error, transient: data.transient, waiting: null });
      break;
    case 'ModelWaitingEvent':
      turnOf(model, data).waiting = { reason: data.reason, endpoint: data.endpoint, waitMs: data.wait_ms ?? null, status: data.status ?? null };
      break;
    case 'HandoffEvent':
      model.stack = data.stack ?? [];
      model.depths.push(data.stack_depth ?? model.stack.length);
      model.currentAgent = data.to;
      model.items.push({
        kind: 'transition', transition: data.kind, from: data.from, to: data.to, reason: data.reason ?? null,
        depth: data.stack_depth ?? model.stack.length, stack: [...model.stack], requested: data.handoff_id != null,
      });
      break;
    case 'ToolCallEvent':
      Object.assign(toolCallOf(turnOf(model, data), data), { status: data.status, arguments: data.arguments ?? '', reason: data.reason ?? null });
      break;
    case 'ToolResultEvent':
      Object.assign(toolCallOf(turnOf(model, data), data), {
        status: 'completed', isError: data.is_error === true, durationMs: data.duration_ms ?? null, result: data.result ?? '',
        resultChars: data.result_chars ?? null,
      });
      break;
    case 'ToolDecisionEvent': {
      // The call waited in the paused step's last attempt; the next step runs it (approved) or tells the agent (denied).
      const decision = { approved: data.approved === true, reason: data.reason ?? null };
      const turn = findLast(model.items, item => item.kind === 'turn' && item.step === data.step && item.tools?.some(c => c.callId === data.call_id));
      if (turn) {
        toolCallOf(turn, data).decision = decision;
      }

      model.items.push({ kind: 'decision', tool: data.tool, ...decision });
      break;
    }
    case 'RequestInfoEvent': {
      const request = data.request_info ?? {};
      model.items.push({ kind: 'request', agent: request.source_executor_id, prompt: request.data?.prompt ?? '' });
      break;
    }
    case 'WorkflowOutputEvent':
      model.items.push({ kind: 'output', agent: trace.executor_id, text: data.output ?? '' });
      break;
    case 'WorkflowErrorEvent':
      model.items.push({ kind: 'error', message: data.error ?? 'The run failed.', deadLettered: data.attempts != null });
      break;
    default:
      break;
  }
}

function startTurn(model, data) {
  const turn = {
    kind: 'turn', step: data.step, attempt: data.attempt ?? 1, agent: data.agent, text: '', status: 'running',
    decision: null, target: null, durationMs: null, waiting: null, tools: [],
  };
  model.items.push(turn);
  model.status = 'running';
  model.currentAgent = data.agent;
  return turn;
}

function turnOf(model, data) {
  return findLast(model.items, item => item.kind === 'turn' && item.step === data.step && item.attempt === data.attempt)
    ?? startTurn(model, data);
}

// A turn's call by its id, added on first sight (a model kept from before tool calls has no list yet).
function toolCallOf(turn, data) {
  turn.tools ??= [];
  let call = turn.tools.find(c => c.callId === data.call_id);
  if (!call) {
    call = { callId: data.call_id, tool: data.tool, arguments: '', status: 'running', reason: null, decision: null };
    turn.tools.push(call);
  }

  return call;
}

function findLast(items, predicate) {
  for (let i = items.length - 1; i >= 0; i--) {
    if (predicate(items[i])) {
      return items[i];
    }
  }

  return undefined;
}
