// The peer's workflow: five nodes in a chain, each asking a zero-latency chat model for one token. The model streams
// its token through LangGraph's callbacks, so `stream_mode: "messages-tuple"` sends one text event per node, as
// Qlaw's scripted model sends a delta per agent turn. `pace_ms` (input) delays each node, for the kill -9 case.
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, AIMessageChunk } from "@langchain/core/messages";
import { ChatGenerationChunk } from "@langchain/core/outputs";
import { Annotation, END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";

export const NODES = 5;

class OneTokenModel extends BaseChatModel {
  _llmType() {
    return "one-token";
  }

  async *_streamResponseChunks(messages, _options, runManager) {
    const token = `token ${messages.length} `;
    yield new ChatGenerationChunk({ text: token, message: new AIMessageChunk({ content: token }) });
    await runManager?.handleLLMNewToken(token);
  }

  async _generate(messages) {
    const token = `token ${messages.length} `;
    return { generations: [{ text: token, message: new AIMessage(token) }] };
  }
}

const model = new OneTokenModel({});
const State = Annotation.Root({ ...MessagesAnnotation.spec, pace_ms: Annotation() });

async function turn(state) {
  if (state.pace_ms > 0) {
    await new Promise((resolve) => setTimeout(resolve, state.pace_ms));
  }

  return { messages: [await model.invoke(state.messages)] };
}

const builder = new StateGraph(State);
let previous = START;
for (let i = 1; i <= NODES; i++) {
  builder.addNode(`node${i}`, turn).addEdge(previous, `node${i}`);
  previous = `node${i}`;
}

export const graph = builder.addEdge(previous, END).compile();
