// Follows GET /v1/runs/{id}/responses with EventSource. A dropped connection is resumed by the browser itself with
// the Last-Event-ID header; a new page resumes with ?starting_after= the last id it kept. The server ends the stream
// with `data: [DONE]` when the run has ended or waits for input; the stream is closed then, or EventSource would
// reconnect for ever.

const EVENTS = ['response.output_text.delta', 'response.trace.complete', 'response.completed', 'response.error'];

export class RunStream {
  #source = null;

  /**
   * @param {string} runId
   * @param {{ onEvent: (type: string, payload: object, id: number) => void, onState: (state: string) => void }} handlers
   */
  constructor(runId, handlers) {
    this.runId = runId;
    this.handlers = handlers;
  }

  get isOpen() {
    return this.#source !== null;
  }

  /** Opens the stream after event `after` (0: from the start). */
  open(after) {
    this.close();
    const query = after > 0 ? `?starting_after=${after}` : '';
    const source = new EventSource(`/v1/runs/${encodeURIComponent(this.runId)}/responses${query}`);
    this.#source = source;
    this.handlers.onState('connecting');
    source.addEventListener('open', () => this.handlers.onState('live'));
    for (const type of EVENTS) {
      source.addEventListener(type, event => this.handlers.onEvent(type, JSON.parse(event.data), Number(event.lastEventId)));
    }

    source.addEventListener('message', event => {
      if (event.data === '[DONE]') {
        this.close();
      }
    });
    source.addEventListener('error', () => {
      if (this.#source !== source) {
        return;
      }

      // CLOSED: the server refused the stream (e.g. unknown run); otherwise the browser is reconnecting.
      if (source.readyState === EventSource.CLOSED) {
        this.#source = null;
        this.handlers.onState('closed');
      } else {
        this.handlers.onState('reconnecting');
      }
    });
  }

  close() {
    if (this.#source) {
      this.#source.close();
      this.#source = null;
      this.handlers.onState('closed');
    }
  }
}
