// Calls to the /v1 API. Every error the API writes is problem+json; it becomes an Error whose message a person can read.

/** Sends a request and returns the parsed JSON body (null for an empty one); throws ApiError on a non-2xx answer. */
export async function api(path, { method = 'GET', body } = {}) {
  const init = { method, headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  const response = await fetch(path, init);
  const text = await response.text();
  const json = text ? safeParse(text) : null;
  if (!response.ok) {
    throw new ApiError(response.status, json);
  }

  return json;
}

/** Every item of a keyset-paged list (`{data, has_more, last_id}`), up to `max` items. */
export async function listAll(path, max = 500) {
  const items = [];
  let after = '';
  for (;;) {
    const separator = path.includes('?') ? '&' : '?';
    const page = await api(`${path}${separator}limit=100${after}`);
    items.push(...page.data);
    if (!page.has_more || items.length >= max) {
      return items;
    }

    after = `&after=${encodeURIComponent(page.last_id)}`;
  }
}

/** A failed API call: its status and problem document. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(describe(status, problem));
    this.status = status;
    this.problem = problem;
  }
}

function describe(status, problem) {
  const parts = [problem?.title ?? `HTTP ${status}`];
  if (problem?.detail) {
    parts.push(problem.detail);
  }

  for (const [field, messages] of Object.entries(problem?.errors ?? {})) {
    parts.push(`${field}: ${[].concat(messages).join(' ')}`);
  }

  return parts.join(' — ');
}

function safeParse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return { title: text.slice(0, 200) };
  }
}
