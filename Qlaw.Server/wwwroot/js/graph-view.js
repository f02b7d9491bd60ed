// The workflow graph beside the run, in plain SVG: agents as nodes (the start agent marked), handoff, consult and
// default edges drawn differently, the agent in control highlighted and every edge the run has taken lit.

import { agentColor } from './dom.js';
import { NODE, layoutWorkflow, takenEdges } from './graph-layout.js';

const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attributes, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value != null) {
      element.setAttribute(key, String(value));
    }
  }

  element.append(...children);
  return element;
}

/** Draws `workflow` into `container` for the run `model`; redraws only when something it shows changed. */
export function renderGraph(container, workflow, model) {
  if (!workflow) {
    container.replaceChildren();
    return;
  }

  const transitions = model.items.filter(item => item.kind === 'transition');
  const active = model.ended ? null : model.currentAgent;
  const key = `${workflow.id}|${active}|${transitions.length}`;
  if (container.dataset.key === key) {
    return;
  }

  container.dataset.key = key;
  const { nodes, edges, width, height } = layoutWorkflow(workflow.config);
  const at = new Map(nodes.map(node => [node.name, node]));
  const taken = takenEdges(transitions);
  const markers = s('defs', {}, ...['handoff', 'consult', 'default'].map(kind =>
    s('marker', { id: `arrow-${kind}`, class: `marker kind-${kind}`, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      s('path', { d: 'M0,0 L10,5 L0,10 z' }))));
  const lines = edges.map((edge, i) => {
    const parallel = edges.slice(0, i).filter(e => e.from === edge.from && e.to === edge.to).length;
    const lit = taken.has(`${edge.from}→${edge.to}`);
    return s('path', {
      d: edgePath(at.get(edge.from), at.get(edge.to), parallel),
      class: `edge kind-${edge.kind}${lit ? ' lit' : ''}`,
      'marker-end': `url(#arrow-${edge.kind})`,
      'data-testid': 'graph-edge',
      'data-from': edge.from,
      'data-to': edge.to,
      'data-kind': edge.kind,
      'data-lit': lit,
    }, s('title', {}, `${edge.kind}: ${edge.from} → ${edge.to}`));
  });
  const boxes = nodes.map(node => {
    const group = s('g', {
      class: `node${node.start ? ' start' : ''}${node.name === active ? ' active' : ''}`,
      transform: `translate(${node.x},${node.y})`,
      'data-testid': 'graph-node',
      'data-agent': node.name,
      'data-start': node.start,
      'data-active': node.name === active,
    },
    s('rect', { width: NODE.width, height: NODE.height, rx: 8 }),
    s('text', { x: NODE.width / 2, y: NODE.height / 2 + 5, 'text-anchor': 'middle' }, node.start ? `▶ ${node.name}` : node.name));
    group.style.setProperty('--agent', agentColor(node.name));
    return group;
  });
  const legend = s('text', { x: NODE.margin, y: height - 6, class: 'legend' }, '— handoff   ┄ consult   ⋯ default');
  container.replaceChildren(s('svg', {
    class: 'graph', viewBox: `0 0 ${width} ${height + 12}`, width, height: height + 12, role: 'img', 'aria-label': `Workflow ${workflow.name}`,
  }, markers, ...lines, ...boxes, legend));
}

// Down to the next layers: bottom to top, curved when another edge joins the same pair. Within a layer: side to side,
// bulging below. Back up: out of the right side and into the right side, bulging right.
function edgePath(from, to, parallel) {
  const fromX = from.x + NODE.width / 2;
  const toX = to.x + NODE.width / 2;
  if (to.layer > from.layer) {
    const midX = (fromX + toX) / 2 + 28 * parallel;
    return `M${fromX},${from.y + NODE.height} Q${midX},${(from.y + NODE.height + to.y) / 2} ${toX},${to.y}`;
  }

  const fromY = from.y + NODE.height / 2;
  const toY = to.y + NODE.height / 2;
  if (to.layer === from.layer) {
    const [startX, endX] = toX > fromX ? [from.x + NODE.width, to.x] : [from.x, to.x + NODE.width];
    return `M${startX},${fromY} Q${(startX + endX) / 2},${fromY + 30 + 16 * parallel} ${endX},${toY}`;
  }

  const out = NODE.width / 2 + 12 + 16 * parallel;
  return `M${from.x + NODE.width},${fromY} C${fromX + out + NODE.width / 2},${fromY} ${toX + out + NODE.width / 2},${toY} ${to.x + NODE.width},${toY}`;
}
