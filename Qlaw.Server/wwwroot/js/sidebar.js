// The left column: the workflows, a form that starts a run, and the recent runs. Recent runs come from
// GET /v1/runs when the server's OpenAPI document lists it, else from each workflow's GET /v1/workflows/{id}/runs.

import { api, listAll } from './api.js';
import { agentChip, formatTime, h, registerAgents } from './dom.js';

const RECENT = 30;

export class Sidebar {
  workflows = [];
  #globalRuns = null;

  /** @param {{ onStart: (runId: string) => void, selected: () => string | null }} app */
  constructor(app) {
    this.app = app;
    this.form = document.getElementById('start-form');
    this.select = document.getElementById('start-workflow');
    this.input = document.getElementById('start-input');
    this.error = document.getElementById('start-error');
    this.form.addEventListener('submit', event => this.#start(event));
    this.select.addEventListener('change', () => this.#describe());
    document.getElementById('refresh-runs').addEventListener('click', () => this.refreshRuns());
  }

  workflowById(id) {
    return this.workflows.find(w => w.id === id);
  }

  async loadWorkflows() {
    this.workflows = await listAll('/v1/workflows');
    registerAgents(this.workflows.flatMap(w => w.config.agents.map(a => a.name)));
    const chosen = this.select.value;
    this.select.replaceChildren(...this.workflows.map(w => h('option', { value: w.name }, w.name)));
    if (chosen) {
      this.select.value = chosen;
    }

    document.getElementById('workflows').replaceChildren(...this.workflows.map(w => h('li', { testid: 'workflow', dataset: { name: w.name } },
      h('strong', null, w.name), h('span', { class: 'hint' }, w.config.description ?? ''),
      h('span', { class: 'agents' }, w.config.agents.map(a => agentChip(a.name))))));
    this.#describe();
  }

  async refreshRuns() {
    const list = document.getElementById('runs');
    try {
      const runs = await this.#recentRuns();
      list.replaceChildren(...runs.map(run => this.#runItem(run)));
      if (runs.length === 0) {
        list.append(h('li', { class: 'hint' }, 'No run yet: start one above.'));
      }
    } catch (error) {
      list.replaceChildren(h('li', { class: 'error' }, error.message));
    }
  }

  async #recentRuns() {
    this.#globalRuns ??= api('/openapi/v1.json').then(doc => doc?.paths?.['/v1/runs']?.get != null, () => false);
    if (await this.#globalRuns) {
      return (await api(`/v1/runs?limit=${RECENT}`)).data;
    }

    const perWorkflow = await Promise.all(this.workflows.map(w => listAll(`/v1/workflows/${w.id}/runs`, 1000)));
    return perWorkflow.flat().sort((a, b) => b.created_at.localeCompare(a.created_at)).slice(0, RECENT);
  }

  #runItem(run) {
    const workflow = this.workflowById(run.workflow_id);
    const link = h('a', { href: `#/runs/${run.id}`, class: run.id === this.app.selected() ? 'selected' : null },
      h('span', { class: `badge status-${run.status}` }, run.status.replaceAll('_', ' ')),
      h('span', { class: 'name' }, workflow?.name ?? 'workflow'),
      h('span', { class: 'hint' }, formatTime(run.created_at)),
      h('code', { class: 'hint' }, run.id.slice(-8), run.forked_from ? ` · fork of ${run.forked_from.slice(-8)} at step ${run.from_step}` : ''));
    return h('li', { testid: 'run-item', dataset: { runId: run.id, status: run.status, forkedFrom: run.forked_from } }, link);
  }

  #describe() {
    const workflow = this.workflows.find(w => w.name === this.select.value);
    const hint = document.getElementById('workflow-agents');
    hint.replaceChildren(...(workflow ? ['starts with ', agentChip(workflow.config.start_agent), ` · ${workflow.config.agents.length} agents`] : []));
  }

  async #start(event) {
    event.preventDefault();
    const button = this.form.querySelector('button[type=submit]');
    button.disabled = true;
    this.error.textContent = '';
    try {
      const run = await api(`/v1/workflows/${encodeURIComponent(this.select.value)}/runs`, { method: 'POST', body: { input: this.input.value } });
      this.app.onStart(run.id);
    } catch (error) {
      this.error.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  }
}
