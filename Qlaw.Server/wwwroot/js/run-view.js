// One run, live: the header with its status (and the run it was forked from), the continue / approve / handoff / cancel
// controls, the flow of agents (each completed turn offers a fork), the workflow graph, the origin stack, the step timeline and
// the audit log. The SSE stream drives the flow; status and audit are re-read after
// every trace, throttled.

import { api, listAll } from './api.js';
import { agentChip, h } from './dom.js';
import { renderFlow } from './flow-view.js';
import { forkPanel } from './fork-panel.js';
import { renderGraph } from './graph-view.js';
import { addUserInput, applyEvent, awaitingCalls } from './run-model.js';
import { renderAudit, renderStack, renderTimeline } from './run-panels.js';
import { RunStream } from './run-stream.js';
import { loadRunModel, saveRunModel } from './run-store.js';
import { renderControls, runControls } from './run-controls.js';
import { runLayout } from './run-layout.js';

export class RunView {
  #frame = 0;
  #refreshTimer = 0;
  #saveTimer = 0;
  #audit = [];
  #status = null;
  #refreshing = null;

  /** @param {{ workflowById: (id: string) => object | undefined, onRunChanged: () => void, openRun: (id: string) => void }} app */
  constructor(container, runId, app) {
    this.runId = runId;
    this.app = app;
    this.model = loadRunModel(runId);
    this.ui = runLayout(runId);
    this.controls = runControls(this.ui.controls, {
      send: (action, body) => this.#command(action, body),
    });
    this.forks = forkPanel(this.ui.fork, { fork: (step, input) => this.#fork(step, input) });
    this.ui.flow.addEventListener('click', event => {
      const card = event.target.closest('[data-testid="fork-from"]')?.closest('[data-testid="turn"]');
      if (card) {
        this.forks.open({ step: Number(card.dataset.step), agent: card.dataset.agent });
      }
    });
    container.replaceChildren(this.ui.root);
    this.stream = new RunStream(runId, {
      onEvent: (type, payload, id) => this.#onEvent(type, payload, id),
      onState: state => this.#onStreamState(state),
    });
    this.#render();
    this.#refresh();
    if (!this.model.ended) {
      this.stream.open(this.model.lastEventId);
    }
  }

  /** Keeps what was seen, for a reload. */
  save() {
    saveRunModel(this.model);
  }

  dispose() {
    this.stream.close();
    cancelAnimationFrame(this.#frame);
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#saveTimer);
    this.save();
  }

  #onEvent(type, payload, id) {
    if (!applyEvent(this.model, type, payload, id)) {
      return;
    }

    this.#scheduleRender();
    this.#scheduleSave();
    if (type !== 'response.output_text.delta') {
      this.#scheduleRefresh(250);
    }
  }

  #onStreamState(state) {
    this.ui.streamState.textContent = state;
    this.ui.streamState.dataset.state = state;
    if (state === 'closed') {
      saveRunModel(this.model);
      this.#scheduleRefresh(0);
      this.app.onRunChanged();
    }
  }

  async #command(action, body) {
    await api(`/v1/runs/${this.runId}/${action}`, { method: 'POST', body });
    if (action === 'continue') {
      if (body?.input) {
        addUserInput(this.model, body.input);
      }

      this.model.status = 'running';
      this.model.ended = false;
      saveRunModel(this.model);
      this.stream.open(this.model.lastEventId);
    }

    this.#scheduleRender();
    this.#scheduleRefresh(0);
    this.app.onRunChanged();
  }

  async #fork(step, input) {
    const run = await api(`/v1/runs/${this.runId}/fork`, { method: 'POST', body: { from_step: step, input } });
    this.app.onRunChanged();
    this.app.openRun(run.id);
  }

  #scheduleRender() {
    if (!this.#frame) {
      this.#frame = requestAnimationFrame(() => {
        this.#frame = 0;
        this.#render();
      });
    }
  }

  #scheduleSave() {
    if (!this.#saveTimer) {
      this.#saveTimer = setTimeout(() => {
        this.#saveTimer = 0;
        saveRunModel(this.model);
      }, 300);
    }
  }

  #scheduleRefresh(delay) {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = setTimeout(() => this.#refresh(), delay);
  }

  // One refresh at a time; one asked for meanwhile runs after it, so the last state read is never older than the last ask.
  async #refresh() {
    if (this.#refreshing) {
      this.#refreshing.again = true;
      return;
    }

    this.#refreshing = { again: false };
    try {
      const last = this.#audit.at(-1)?.id ?? 0;
      // The audit first, then the status: the timeline is then never older than the audit beside it (read together,
      // the audit could show run.completed beside a last step still running).
      const audit = await listAll(`/v1/runs/${this.runId}/audit${last ? `?after=${last}` : ''}`, 10_000);
      const status = await api(`/v1/runs/${this.runId}/status`);
      this.#status = status;
      this.#audit.push(...audit.filter(entry => entry.id > last));

      // While the stream is open it is the fresher source (this read may predate its last event).
      if (!this.stream.isOpen || this.model.status == null) {
        this.model.status = status.status;
      }

      this.model.currentAgent ??= status.current_agent;
      if (!this.stream.isOpen && isTerminal(status)) {
        this.model.ended = true;
      }

      this.ui.error.textContent = '';
      this.#render();
    } catch (error) {
      this.ui.error.textContent = error.message;
    } finally {
      const { again } = this.#refreshing;
      this.#refreshing = null;
      if (again) {
        this.#scheduleRefresh(100);
      }
    }
  }

  #render() {
    const status = this.model.status ?? this.#status?.status ?? 'loading';
    const workflow = this.#status ? this.app.workflowById(this.#status.workflow_id) : undefined;
    this.ui.status.textContent = status.replaceAll('_', ' ');
    this.ui.status.className = `badge status-${status}`;
    this.ui.status.dataset.status = status;
    this.ui.workflow.textContent = workflow?.name ?? this.#status?.workflow_id ?? '';
    this.ui.agent.replaceChildren(this.model.currentAgent ? agentChip(this.model.currentAgent) : '—');
    renderFlow(this.ui.flow, this.model);
    renderGraph(this.ui.graph, workflow, this.model);
    renderLineage(this.ui.lineage, this.#status);
    renderStack(this.ui.stack, this.model);
    renderTimeline(this.ui.timeline, this.#status);
    renderAudit(this.ui.audit, this.#audit);
    renderControls(this.controls, {
      status, completedAt: this.#status?.completed_at, workflow, current: this.model.currentAgent, awaiting: awaitingCalls(this.model),
    });
  }
}

/** "forked from {run} at step {n}", linking back to the source run. */
function renderLineage(element, status) {
  const source = status?.forked_from;
  if (!source || element.dataset.source === source) {
    return;
  }

  element.dataset.source = source;
  element.replaceChildren(' · forked from ', h('a', { href: `#/runs/${source}`, testid: 'forked-from' }, source.slice(0, 8)), ` at step ${status.from_step}`);
}

/** A run that can no longer change: completed, cancelled, or failed for good (a dead-lettered run can continue). */
function isTerminal(status) {
  return status.status === 'completed' || status.status === 'cancelled' || (status.status === 'failed' && status.completed_at != null);
}
