// Small DOM helpers. Text always goes in as text nodes, never as HTML: agents' output is untrusted.

/** Creates an element: `h('li', { class: 'turn', testid: 'turn', dataset: { agent } }, 'text', child)`. */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) {
      continue;
    }

    if (key === 'class') {
      element.className = value;
    } else if (key === 'testid') {
      element.dataset.testid = value;
    } else if (key === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (key.startsWith('on')) {
      element.addEventListener(key.slice(2), value);
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }

  element.append(...children.flat(Infinity).filter(c => c != null && c !== false).map(c => (c instanceof Node ? c : String(c))));
  return element;
}

/** A duration for people: 850 ms, 1.09 s, 2 min 5 s. */
export function formatDuration(ms) {
  if (ms == null) {
    return '…';
  }

  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }

  if (ms < 60_000) {
    return `${(ms / 1000).toFixed(2)} s`;
  }

  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** JSON text as people read it (`space` indents it); text that is not JSON as it is. */
export function formatJson(text, space) {
  try {
    return JSON.stringify(JSON.parse(text), null, space);
  } catch {
    return text;
  }
}

/** A wall-clock time in the reader's locale. */
export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : '';
}

// Distinct colours for the agents of the stored workflows, given in the order they are first seen.
const PALETTE = ['#2f855a', '#2b6cb0', '#0f7c8c', '#805ad5', '#c05621', '#b83280', '#4a5568', '#975a16'];
const assigned = new Map();

/** Gives the next free palette colours to agent names not seen before. */
export function registerAgents(names) {
  for (const name of names) {
    if (!assigned.has(name) && assigned.size < PALETTE.length) {
      assigned.set(name, PALETTE[assigned.size]);
    }
  }
}

/** A stable colour per agent name, so one agent looks the same in the flow, the stack and the timeline. */
export function agentColor(name) {
  if (assigned.has(name)) {
    return assigned.get(name);
  }

  let hash = 0;
  for (const char of name ?? '') {
    hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  }

  return `hsl(${hash % 360} 55% 42%)`;
}

/** An agent's name as a coloured chip. */
export function agentChip(name) {
  const chip = h('span', { class: 'agent', dataset: { agent: name ?? '' } }, name ?? '?');
  chip.style.setProperty('--agent', agentColor(name));
  return chip;
}
