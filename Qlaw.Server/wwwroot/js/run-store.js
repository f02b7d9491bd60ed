// Keeps each watched run's model in sessionStorage, so that a reload shows what was seen and the stream resumes
// after the last event instead of replaying the run. Storage that is full or disabled only costs a replay.

import { createRunModel } from './run-model.js';

const PREFIX = 'qlaw.console.run.';

/** The kept model of a run, or an empty one. */
export function loadRunModel(runId) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(PREFIX + runId) ?? 'null');
    if (kept?.runId === runId && Array.isArray(kept.items)) {
      return kept;
    }
  } catch {
    // A damaged entry: start again from the first event.
  }

  return createRunModel(runId);
}

/** Keeps the model (all of it at once, so its items and lastEventId always agree). */
export function saveRunModel(model) {
  try {
    sessionStorage.setItem(PREFIX + model.runId, JSON.stringify(model));
  } catch {
    forgetOthers(model.runId);
  }
}

function forgetOthers(runId) {
  try {
    for (const key of Object.keys(sessionStorage)) {
      if (key.startsWith(PREFIX) && key !== PREFIX + runId) {
        sessionStorage.removeItem(key);
      }
    }
  } catch {
    // Nothing more to do: the run is replayed after a reload.
  }
}
