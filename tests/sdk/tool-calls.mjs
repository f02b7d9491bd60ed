// The official OpenAI Node SDK's stream accumulator on a run whose agent calls an MCP tool: the call arrives as a
// function_call output item between the agent's messages. Prints one line `RESULT {json}`; ToolsTests asserts on it.
// QLAW_BASE_URL is the server; the workflow "sdk-echo" must exist.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: new URL('v1', process.env.QLAW_BASE_URL).toString(), apiKey: 'unused', maxRetries: 0 });
const stream = client.responses.stream({ model: 'sdk-echo', input: 'say hi through the tool' });
const argumentDeltas = [];
stream.on('response.function_call_arguments.delta', (event) => argumentDeltas.push(event.delta));
const final = await stream.finalResponse();
console.log(`RESULT ${JSON.stringify({
  status: final.status,
  items: final.output.map((item) => item.type),
  call: final.output.filter((item) => item.type === 'function_call').map((item) => ({ name: item.name, arguments: item.arguments, status: item.status })),
  argument_deltas: argumentDeltas,
  output_text: final.output_text,
})}`);
