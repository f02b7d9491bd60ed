// Starts the LangGraph.js API server that `langgraphjs dev` runs (its in-memory storage, flushed to .langgraph_api/
// three seconds after the last change), without the CLI's file watcher, browser, Studio and analytics.
// `node server.mjs <port> [workers]`: binds 127.0.0.1; a worker runs one run at a time (10 by default, as the dev
// server). SIGTERM flushes and exits, as the CLI's server does; SIGKILL does not.
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "@langchain/langgraph-api/server";

const cwd = dirname(fileURLToPath(import.meta.url));
const config = JSON.parse(await readFile(`${cwd}/langgraph.json`, "utf-8"));
const port = Number.parseInt(process.argv[2] ?? "2024", 10);
const nWorkers = Number.parseInt(process.argv[3] ?? "10", 10);
const { host, cleanup } = await startServer({ port, nWorkers, host: "127.0.0.1", cwd, graphs: config.graphs });

const stop = async () => {
  await cleanup();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
console.log(`peer ready at ${host}`);
