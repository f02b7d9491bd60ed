// The peer's workflow on a paced model: planner → coder → judge, each node streaming one chat completion from the
// OpenAI-compatible fake model that Qlaw.Bench runs (PACED_MODEL_URL, its /v1 URL), as Qlaw's paced workflow does.
// No tools are offered, so the fake answers with text only.
import { ChatOpenAI } from "@langchain/openai";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";

const model = new ChatOpenAI({
  model: "paced",
  apiKey: "sk-bench",
  streaming: true,
  // As Qlaw's client: a failed call is not retried by the client.
  maxRetries: 0,
  configuration: { baseURL: process.env.PACED_MODEL_URL ?? "http://127.0.0.1:9/v1" },
});

async function turn(state) {
  return { messages: [await model.invoke(state.messages)] };
}

export const graph = new StateGraph(MessagesAnnotation)
  .addNode("planner", turn)
  .addNode("coder", turn)
  .addNode("judge", turn)
  .addEdge(START, "planner")
  .addEdge("planner", "coder")
  .addEdge("coder", "judge")
  .addEdge("judge", END)
  .compile();
