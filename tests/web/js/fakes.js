/** Fakes for the platform edges: clock, websocket, REST API. */

export class FakeClock {
  constructor(start = Date.parse('2026-11-01T12:00:00Z')) {
    this.t = start;
    this.timers = new Map();
    this.nextId = 1;
  }

  now() {
    return this.t;
  }

  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimeout(id) {
    this.timers.delete(id);
  }

  /** Delays of the timers now pending, soonest first. */
  pending() {
    return [...this.timers.values()].map((t) => t.at - this.t).sort((a, b) => a - b);
  }

  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

export class FakeSockets {
  constructor() {
    this.all = [];
    this.factory = (path) => {
      const socket = {
        path, sent: [], closed: null, onopen: null, onmessage: null, onclose: null,
        send(text) { this.sent.push(JSON.parse(text)); },
        close(code = 1000) { this.closed = code; },
        open() { this.onopen?.(); },
        receive(frame) { this.onmessage?.(typeof frame === 'string' ? frame : JSON.stringify(frame)); },
        drop(code = 1006) { this.onclose?.({ code, reason: '' }); },
      };
      this.all.push(socket);
      return socket;
    };
  }

  get last() {
    return this.all[this.all.length - 1];
  }
}

/** An API whose methods resolve from editable canned answers and record their calls. */
export class FakeApi {
  constructor() {
    this.calls = [];
    this.threadList = { threads: [], seq: 0 };
    this.deviceList = [];
    this.sendResults = [];
  }

  async threads() {
    this.calls.push(['threads']);
    if (this.threadList instanceof Error) throw this.threadList;
    return structuredClone(this.threadList);
  }

  async devices() {
    this.calls.push(['devices']);
    return this.deviceList;
  }

  async messages(threadId, before = null) {
    this.calls.push(['messages', threadId, before]);
    return { messages: [], has_more: false };
  }

  async send(to, body, clientMsgId) {
    this.calls.push(['send', to, body, clientMsgId]);
    const next = this.sendResults.shift();
    if (next instanceof Error) throw next;
    return next ?? message({ id: 900, direction: 'out', peer: to, body, status: 'queued', client_msg_id: clientMsgId });
  }

  async markRead(threadId) {
    this.calls.push(['markRead', threadId]);
    return null;
  }
}

let seq = 100;

export function message(fields = {}) {
  return Object.freeze({
    id: 1, thread_id: 1, peer: '+15550100002', direction: 'in', body: 'hi', status: 'received',
    timestamp: '2026-11-01T11:00:00Z', seq: ++seq, client_msg_id: null, error: null, ...fields,
  });
}

export function thread(fields = {}) {
  return Object.freeze({
    id: 1, peer: '+15550100002', title: '+15550100002', last_message: null,
    last_activity: '2026-11-01T11:00:00Z', unread: 0, seq: ++seq, ...fields,
  });
}

export function apiError(status, code) {
  return Object.assign(new Error(code), { status, code });
}
