// The run console as a person uses it, in Debian's headless Chromium driven by playwright-core (no browser download):
// start the sample workflows from the page, watch them live, answer, hand off, cancel, reload, approve a tool call;
// screenshots go to docs/screenshots/. Run by tests/Qlaw.Server.Tests/ConsoleBrowserTests.cs:
//   QLAW_BASE_URL=http://127.0.0.1:5080 node tests/browser/console.spec.mjs
// Only QLAW_BASE_URL (a loopback address) is contacted. Exits 0 when every check passes.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const base = new URL(process.env.QLAW_BASE_URL ?? 'http://127.0.0.1:5080');
const executablePath = process.env.QLAW_CHROMIUM ?? '/usr/bin/chromium';
const screenshots = process.env.QLAW_SCREENSHOTS ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots');
const timeoutMs = Number(process.env.QLAW_BROWSER_TIMEOUT_MS ?? 150_000);
assert.ok(['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname), `QLAW_BASE_URL must be a loopback address, not ${base}`);

const watchdog = setTimeout(() => {
  console.error(`not ok - the browser checks did not finish within ${timeoutMs} ms`);
  process.exit(2);
}, timeoutMs);
watchdog.unref();

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run'],
});
const problems = [];
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  await context.route(url => url.origin !== base.origin, route => {
    problems.push(`request to another origin: ${route.request().url()}`);
    return route.abort();
  });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on('pageerror', error => problems.push(`page error: ${error.message}`));
  page.on('console', message => message.type() === 'error' && problems.push(`console error: ${message.text()}`));
  const streams = [];
  page.on('request', request => request.url().includes('/responses') && streams.push(new URL(request.url())));

  await page.goto(base.href);
  await check('the page lists the sample workflows', async () => {
    await page.getByTestId('workflow').first().waitFor();
    const names = await page.getByTestId('workflow').evaluateAll(items => items.map(i => i.dataset.name));
    for (const sample of ['code-review', 'plan-only', 'human-in-the-loop', 'code-with-files']) {
      assert.ok(names.includes(sample), `workflows shown: ${names}`);
    }
  });

  await check('a code-review run streams planner, coder, reviewer, coder, judge and the stack goes 0 → 1 → 0', async () => {
    const runId = await startRun(page, 'code-review', 'add two numbers');
    const depthsSeen = await watchStackDepth(page, 'completed', depth => depth === 1 && screenshot(page, 'console-consult-live.png', false));
    assert.deepEqual(compress(depthsSeen), [0, 1, 0], `stack depths seen live: ${depthsSeen}`);
    assert.deepEqual(await agentsInOrder(page), ['planner', 'coder', 'reviewer', 'coder', 'judge']);
    assert.deepEqual(await transitions(page), [
      'handoff planner→coder depth 0', 'consult coder→reviewer depth 1', 'return reviewer→coder depth 0', 'handoff coder→judge depth 0',
    ]);
    assert.equal(await page.getByTestId('stack-history').getAttribute('data-depths'), '0,0,1,0,0');
    await assertTextsMatchTheApi(page, runId);
    await assertTimelineAndAudit(page, 5, ['run.created', 'handoff', 'return', 'run.completed']);
    assert.match(await page.getByTestId('output').innerText(), /Verdict: approved\./);
    await screenshot(page, 'console-code-review.png');
  });

  await check('the finished run beside its workflow graph forks from the reviewer\'s step, and the fork goes on live on the graph', async () => {
    const sourceId = new URL(page.url()).hash.slice('#/runs/'.length);
    const nodes = await page.getByTestId('graph-node').evaluateAll(items => items.map(n => `${n.dataset.agent}${n.dataset.start === 'true' ? ' (start)' : ''}`));
    assert.deepEqual(nodes, ['planner (start)', 'coder', 'reviewer', 'judge']);
    assert.deepEqual(await graphEdges(page), [
      'consult coder→reviewer lit', 'default coder→reviewer lit', 'default planner→coder lit', 'handoff coder→judge lit',
      'handoff judge→coder', 'handoff planner→coder lit', 'handoff reviewer→judge',
    ]);
    assert.equal(await activeNodes(page), '', 'an agent is highlighted on the graph of an ended run');

    await page.locator('[data-testid="turn"][data-step="2"]').getByTestId('fork-from').click();
    await page.getByTestId('fork-input').fill('Check the sum for overflow.');
    const previous = page.url();
    await page.getByTestId('fork-submit').click();
    await page.waitForURL(url => url.href !== previous && /#\/runs\/[0-9a-f-]{36}$/.test(url.hash));
    const forkId = new URL(page.url()).hash.slice('#/runs/'.length);
    assert.notEqual(forkId, sourceId);
    const activeSeen = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && await page.getByTestId('run-status').getAttribute('data-status') !== 'completed') {
      const active = await activeNodes(page);
      if (active && !activeSeen.includes(active)) {
        activeSeen.push(active);
        if (active === 'judge') {
          await screenshot(page, 'console-graph.png', false);
        }
      }

      await new Promise(r => setTimeout(r, 25));
    }

    await waitForStatus(page, 'completed');
    assert.deepEqual(activeSeen.filter(a => a !== 'reviewer'), ['coder', 'judge'], `agents highlighted live: ${activeSeen}`);
    assert.deepEqual(await agentsInOrder(page), ['planner', 'coder', 'reviewer', 'coder', 'judge']);
    await assertTextsMatchTheApi(page, forkId);
    assert.match(await page.getByTestId('lineage').innerText(), new RegExp(`forked from ${sourceId.slice(0, 8)} at step 2`));
    await assertTimelineAndAudit(page, 5, ['run.forked_from', 'return', 'run.completed']);

    await page.getByTestId('forked-from').click();
    await page.waitForURL(url => url.hash === `#/runs/${sourceId}`);
    await page.getByTestId('audit-row').and(page.locator('[data-type="run.forked"]')).waitFor();
  });

  await check('a run awaiting input survives a reload, resumes its stream after the last event, and continues', async () => {
    const runId = await startRun(page, 'human-in-the-loop', 'add two numbers');
    await waitForStatus(page, 'awaiting_input');
    assert.match(await page.getByTestId('input-request').innerText(), /Which programming language/);
    await screenshot(page, 'console-awaiting-input.png');
    const before = await page.getByTestId('flow').innerText();
    streams.length = 0;

    await page.reload();
    await waitForStatus(page, 'awaiting_input');
    await page.getByTestId('stream-state').filter({ hasText: 'closed' }).waitFor();
    assert.equal(await page.getByTestId('flow').innerText(), before, 'the flow after the reload differs');
    assert.ok(streams.length > 0 && streams.every(s => Number(s.searchParams.get('starting_after')) > 0), `streams after reload: ${streams}`);

    await page.getByTestId('continue-input').fill('C#');
    await page.getByTestId('continue').click();
    await waitForStatus(page, 'completed');
    assert.deepEqual(await agentsInOrder(page), ['planner', 'planner', 'coder', 'judge']);
    assert.equal(await page.getByTestId('user-input').innerText(), 'you C#');
    await assertTextsMatchTheApi(page, runId);
  });

  await check('a handoff asked for from the page applies at the next turn boundary', async () => {
    await startRun(page, 'human-in-the-loop', 'add two numbers');
    await waitForStatus(page, 'awaiting_input');
    await page.getByTestId('handoff-agent').selectOption('judge');
    await page.getByTestId('handoff').click();
    await page.getByTestId('command-message').filter({ hasText: 'Handoff to judge requested' }).waitFor();
    await page.getByTestId('continue-input').fill('Python');
    await page.getByTestId('continue').click();
    await waitForStatus(page, 'completed');
    assert.deepEqual(await agentsInOrder(page), ['planner', 'planner', 'judge']);
    assert.deepEqual(await transitions(page), ['handoff planner→judge depth 0']);
    await assertTimelineAndAudit(page, 3, ['handoff.requested', 'handoff', 'run.completed']);
  });

  await check('cancel ends a run and leaves nothing to press', async () => {
    await startRun(page, 'human-in-the-loop', 'add two numbers');
    await waitForStatus(page, 'awaiting_input');
    await page.getByTestId('cancel').click();
    await waitForStatus(page, 'cancelled');
    for (const control of ['continue', 'handoff', 'cancel']) {
      assert.ok(await page.getByTestId(control).isDisabled(), `${control} is still enabled`);
    }

    await page.getByTestId('audit-row').and(page.locator('[data-type="run.cancelled"]')).waitFor();
  });

  await check('a tool call awaiting approval shows its arguments; Approve runs it and every call shows in its agent\'s turn', async () => {
    const runId = await startRun(page, 'code-with-files', 'return the answer');
    await waitForStatus(page, 'awaiting_input');
    const asked = page.getByTestId('approval-call');
    await asked.waitFor();
    assert.equal(await asked.count(), 1);
    assert.equal(await asked.getAttribute('data-tool'), 'files/write_file');
    const folder = runId.replaceAll('-', '');
    assert.deepEqual(JSON.parse(await page.getByTestId('approval-args').innerText()), { path: `${folder}/solution.cs`, content: 'static int Solve() => 42;\n' });
    assert.ok(await page.getByTestId('continue-form').isHidden(), 'the answer box shows beside Approve and Deny');
    assert.deepEqual(await toolCalls(page), ['planner files/create_directory completed ok', 'coder files/write_file awaiting_approval awaiting approval']);
    await screenshot(page, 'console-tool-approval.png');

    await page.getByTestId('approve').click();
    await waitForStatus(page, 'completed');
    assert.ok(await page.getByTestId('approval-form').isHidden());
    assert.deepEqual(await agentsInOrder(page), ['planner', 'coder', 'coder', 'reviewer']);
    assert.deepEqual(await toolCalls(page), [
      'planner files/create_directory completed ok',
      'coder files/write_file awaiting_approval approved',
      'coder files/write_file completed ok',
      'reviewer files/read_text_file completed ok',
    ]);
    assert.equal(await page.getByTestId('tool-decision').innerText(), 'you approved files/write_file');
    const read = page.locator('[data-testid="tool-call"][data-tool="files/read_text_file"]').getByTestId('tool-result');
    assert.equal((await read.innerText()).trim(), 'static int Solve() => 42;');
    await assertTextsMatchTheApi(page, runId);
    await assertTimelineAndAudit(page, 4, ['tool.called', 'tool.approved', 'tool.completed', 'run.completed']);
    await screenshot(page, 'console-tool-calls.png');
  });

  await check('Deny with a reason tells the agent, and the call never runs', async () => {
    const runId = await startRun(page, 'code-with-files', 'return the answer');
    await page.getByTestId('approval-call').waitFor();
    await page.getByTestId('deny-reason').fill('not now');
    await page.getByTestId('deny').click();
    await waitForStatus(page, 'completed');
    assert.equal(await page.getByTestId('tool-decision').innerText(), 'you denied files/write_file: not now');
    assert.deepEqual(await toolCalls(page), [
      'planner files/create_directory completed ok',
      'coder files/write_file awaiting_approval denied: not now',
      'reviewer files/read_text_file completed error',
    ]);
    await assertTextsMatchTheApi(page, runId);
  });

  assert.deepEqual(problems, []);
  console.log('ok - no page error, console error or request to another origin');
} finally {
  await browser.close();
}

async function check(name, body) {
  try {
    await body();
    console.log(`ok - ${name}`);
  } catch (error) {
    console.error(`not ok - ${name}\n${error.stack}`);
    if (problems.length) {
      console.error(problems.join('\n'));
    }

    await page?.screenshot?.({ path: join(screenshots, 'failure.png') }).catch(() => {});
    process.exitCode = 1;
    throw error;
  }
}

async function startRun(page, workflow, input) {
  const previous = page.url();
  await page.getByTestId('start-workflow').selectOption(workflow);
  await page.getByTestId('start-input').fill(input);
  await page.getByTestId('start-run').click();
  await page.waitForURL(url => url.href !== previous && /#\/runs\/[0-9a-f-]{36}$/.test(url.hash));
  return new URL(page.url()).hash.slice('#/runs/'.length);
}

async function waitForStatus(page, status) {
  await page.locator(`[data-testid="run-status"][data-status="${status}"]`).waitFor({ timeout: 60_000 });
}

// What the stack depth shows over time, read as often as a person's eye would (every 25 ms) until the run ends;
// `onFirst` sees each depth the first time it shows.
async function watchStackDepth(page, finalStatus, onFirst) {
  const seen = [];
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [depth, status] = await page.evaluate(() => [
      document.querySelector('[data-testid="stack-depth"]')?.textContent,
      document.querySelector('[data-testid="run-status"]')?.dataset.status,
    ]);
    if (depth != null) {
      if (!seen.includes(Number(depth))) {
        await onFirst(Number(depth));
      }

      seen.push(Number(depth));
    }

    if (status === finalStatus) {
      return seen;
    }

    await new Promise(r => setTimeout(r, 25));
  }

  throw new Error(`the run did not reach ${finalStatus}; depths seen ${seen}`);
}

function compress(values) {
  return values.filter((value, i) => i === 0 || value !== values[i - 1]);
}

async function agentsInOrder(page) {
  return page.getByTestId('turn').evaluateAll(turns => turns.map(t => t.dataset.agent));
}

// The graph's edges as "kind from→to", with " lit" for those the run has taken, sorted.
async function graphEdges(page) {
  const edges = await page.getByTestId('graph-edge').evaluateAll(items => items.map(e => `${e.dataset.kind} ${e.dataset.from}→${e.dataset.to}${e.dataset.lit === 'true' ? ' lit' : ''}`));
  return edges.sort();
}

async function activeNodes(page) {
  return page.evaluate(() => [...document.querySelectorAll('[data-testid="graph-node"][data-active="true"]')].map(n => n.dataset.agent).join(','));
}

// Each tool call shown in the turns, in order: "agent tool status what-its-status-says" (the duration left out).
async function toolCalls(page) {
  return page.getByTestId('turn').evaluateAll(turns => turns.flatMap(turn => [...turn.querySelectorAll('[data-testid="tool-call"]')].map(call =>
    `${turn.dataset.agent} ${call.dataset.tool} ${call.dataset.status} ${call.querySelector('[data-testid="tool-status"]').textContent.split(' · ')[0]}`)));
}

async function transitions(page) {
  return page.getByTestId('transition').evaluateAll(items => items.map(t => `${t.dataset.kind} ${t.dataset.from}→${t.dataset.to} depth ${t.dataset.depth}`));
}

// Each agent's streamed text on the page is exactly its step's output as the API stores it: nothing lost or doubled.
async function assertTextsMatchTheApi(page, runId) {
  const status = await (await fetch(new URL(`/v1/runs/${runId}/status`, base))).json();
  const shown = await page.getByTestId('turn-text').evaluateAll(texts => texts.map(t => t.textContent));
  assert.deepEqual(shown, status.steps.map(step => step.output));
}

async function assertTimelineAndAudit(page, steps, auditTypes) {
  await page.getByTestId('audit-row').and(page.locator(`[data-type="${auditTypes.at(-1)}"]`)).waitFor();
  const rows = page.getByTestId('step-row');
  assert.equal(await rows.count(), steps);
  for (const duration of await page.getByTestId('step-duration').allInnerTexts()) {
    assert.match(duration, /^\d+(\.\d+)? (ms|s)$|min/, `step duration shown: ${duration}`);
  }

  const types = await page.getByTestId('audit-row').evaluateAll(items => items.map(i => i.dataset.type));
  for (const type of auditTypes) {
    assert.ok(types.includes(type), `audit types shown: ${types}`);
  }
}

async function screenshot(page, name, fullPage = true) {
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, name), fullPage });
}
