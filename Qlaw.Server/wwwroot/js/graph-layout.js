// A workflow as a graph: its agents as nodes in layers (how many edges from the start agent), its handoff, consult and
// default edges between them, and which edges a run has taken. Plain data; graph-view.js draws it.

// Edges back up to an earlier layer run down the right-hand side: `backRoom` keeps them inside the picture.
export const NODE = { width: 112, height: 36, columnGap: 40, rowGap: 64, margin: 24, backRoom: 72 };

/** Nodes `{name, layer, x, y, start}` and edges `{from, to, kind}` of a workflow definition (its `config`). */
export function layoutWorkflow(config) {
  const agents = config.agents.map(a => a.name);
  const edges = config.agents.flatMap(agent => [
    ...(agent.handoffs ?? []).map(to => ({ from: agent.name, to, kind: 'handoff' })),
    ...(agent.consults ?? []).map(to => ({ from: agent.name, to, kind: 'consult' })),
    ...(agent.default_next ? [{ from: agent.name, to: agent.default_next, kind: 'default' }] : []),
  ]);

  // Breadth first from the start agent; an agent nothing reaches goes below the rest.
  const layer = new Map([[config.start_agent, 0]]);
  for (const queue = [config.start_agent]; queue.length;) {
    const name = queue.shift();
    for (const edge of edges.filter(e => e.from === name && !layer.has(e.to))) {
      layer.set(edge.to, layer.get(name) + 1);
      queue.push(edge.to);
    }
  }

  const deepest = Math.max(0, ...layer.values());
  const layers = [];
  for (const name of agents) {
    const at = layer.get(name) ?? deepest + 1;
    (layers[at] ??= []).push(name);
  }

  const widest = Math.max(...layers.map(names => names?.length ?? 0));
  const inner = NODE.margin * 2 + widest * NODE.width + (widest - 1) * NODE.columnGap;
  const nodes = layers.flatMap((names, row) => (names ?? []).map((name, column) => {
    const rowWidth = names.length * NODE.width + (names.length - 1) * NODE.columnGap;
    return {
      name,
      layer: row,
      x: (inner - rowWidth) / 2 + column * (NODE.width + NODE.columnGap),
      y: NODE.margin + row * (NODE.height + NODE.rowGap),
      start: name === config.start_agent,
    };
  }));
  const height = NODE.margin * 2 + layers.length * NODE.height + (layers.length - 1) * NODE.rowGap;
  return { nodes, edges, width: inner + NODE.backRoom, height };
}

/**
 * The edges a run has taken, as `from→to` keys of the graph's edges: a handoff or consult takes its own edge; a return
 * goes back along the edge that brought control to the agent that returns.
 */
export function takenEdges(transitions) {
  return new Set(transitions.map(t => (t.transition === 'return' ? `${t.to}→${t.from}` : `${t.from}→${t.to}`)));
}
