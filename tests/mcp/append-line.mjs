// A small MCP server (stdio) with one tool that has a side effect: append_line appends a line to a file, after an
// optional pause. The tool-call crash test runs it under Qlaw.Server and counts the lines against Qlaw's records.
import { appendFile } from "node:fs/promises";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "qlaw-test-lines", version: "1.0.0" });
server.registerTool(
  "append_line",
  {
    description: "Appends one line to a file.",
    inputSchema: { path: z.string(), line: z.string(), delay_ms: z.number().optional() },
  },
  async ({ path, line, delay_ms }) => {
    if (delay_ms) await new Promise((resolve) => setTimeout(resolve, delay_ms));
    await appendFile(path, `${line}\n`);
    return { content: [{ type: "text", text: `appended ${line}` }] };
  },
);
await server.connect(new StdioServerTransport());
