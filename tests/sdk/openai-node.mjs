// The official OpenAI Node SDK (npm `openai`, pinned in package.json), unmodified, pointed at Qlaw: the calls an SDK
// user writes. Prints one line `RESULT {json}` with what each call gave back; ResponsesSdkTests asserts on it.
// QLAW_BASE_URL is the server (e.g. http://127.0.0.1:5080/); workflows "code-review" and "hil" must exist.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: new URL('v1', process.env.QLAW_BASE_URL).toString(), apiKey: 'unused', maxRetries: 0 });
const result = {};

// The SDK's own accumulator: every event applied to a snapshot, the final response from response.completed.
const stream = client.responses.stream({ model: 'code-review', input: 'add two numbers' });
const types = [];
let accumulated = '';
stream.on('event', (event) => types.push(event.type));
stream.on('response.output_text.delta', (event) => { accumulated += event.delta; });
const final = await stream.finalResponse();
result.stream = {
  status: final.status,
  agents: final.output.map((item) => item.agent),
  output_text: final.output_text,
  accumulated,
  first: types.slice(0, 2),
  last: types.at(-1),
  id: final.id,
};

// Without stream: one response object.
const plain = await client.responses.create({ model: 'code-review', input: 'sort a list' });
result.create = { status: plain.status, output_text: plain.output_text, items: plain.output.length };

// Background: answered at once; polled with retrieve until it ends.
const background = await client.responses.create({ model: 'code-review', input: 'reverse a string', background: true });
let polled = background;
const deadline = Date.now() + 60_000;
while (['queued', 'in_progress'].includes(polled.status) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  polled = await client.responses.retrieve(background.id);
}
result.background = { started: background.status, ended: polled.status, output_text: polled.output_text, same: polled.id === background.id };

// Its stream replayed from the start, then resumed after an event: server-side (starting_after) and in the SDK's helper.
const replay = [];
for await (const event of await client.responses.retrieve(background.id, { stream: true })) {
  replay.push(event);
}
const cut = replay.findIndex((event) => event.type === 'response.output_text.delta') + 3;
const resumed = [];
for await (const event of await client.responses.retrieve(background.id, { stream: true, starting_after: replay[cut].sequence_number })) {
  resumed.push(event);
}
const helper = await client.responses.stream({ response_id: background.id, starting_after: replay[cut].sequence_number }).finalResponse();
result.resume = {
  replayed: replay.map((event) => event.sequence_number),
  resumed: resumed.map((event) => event.sequence_number),
  cut: replay[cut].sequence_number,
  replay_text: replay.filter((event) => event.type === 'response.output_text.delta').map((event) => event.delta).join(''),
  helper_status: helper.status,
  helper_text: helper.output_text,
};

// Cancel: a run waiting for an answer is cancelled; the response says so.
const waiting = await client.responses.create({ model: 'hil', input: 'my order is late', background: true });
let asked = waiting;
while (asked.status !== 'incomplete' && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 100));
  asked = await client.responses.retrieve(waiting.id);
}
const cancelled = await client.responses.cancel(waiting.id);
result.cancel = { asked: asked.incomplete_details?.reason, status: cancelled.status, reason: cancelled.incomplete_details?.reason };

// Delete: gone afterwards.
await client.responses.delete(final.id);
try {
  await client.responses.retrieve(final.id);
  result.delete = { after: 'found' };
} catch (error) {
  result.delete = { after: error.status };
}

// What Qlaw refuses, and what it ignores (named in a response header).
try {
  await client.responses.create({ model: 'code-review', input: 'x', store: false });
  result.store = { status: 'accepted' };
} catch (error) {
  result.store = { status: error.status, param: error.error?.param, message: error.message };
}
const { response: raw } = await client.responses.create({ model: 'code-review', input: 'x', temperature: 0.2, background: true }).withResponse();
result.ignored = raw.headers.get('qlaw-ignored-parameters');

console.log(`RESULT ${JSON.stringify(result)}`);
