/**
 * Keeps the store in step with the server over the browser websocket.
 *
 * Rules:
 * - The cursor is the highest `upto` applied. It starts at the `seq` of a
 *   fresh `GET /threads`, and every (re)connect subscribes with `since=cursor`,
 *   so a dropped connection loses nothing and the store's upsert-by-id makes
 *   replayed changes harmless.
 * - The cursor's `epoch` (the history its seqs belong to, from the same
 *   `GET /threads`) travels with it in every subscribe. After a restore the
 *   server's epoch changes and it answers `resync`: a cursor is never resumed
 *   in another history, where its seqs mean other changes.
 * - `resync` (cursor too old, from the future or of another epoch) refetches
 *   the thread list and subscribes again from its `seq` and epoch; the server
 *   sends nothing more on that socket until then. A `changes` frame of another
 *   epoch (which a server never sends) makes the client start over.
 * - Close code 4401 means the session is gone: stop and tell the app.
 * - Any other close, or a malformed frame, reconnects after `backoffDelay`.
 *   After a few failures in a row the status becomes `unreachable` (the
 *   server is down or the path to it is broken) instead of `reconnecting`;
 *   when the browser itself says it is offline, it is `offline`.
 *   `retryNow()` skips the wait (the user's "Retry now").
 * - A ping every 25 s; a connection that stays silent for a whole ping
 *   interval is treated as dead, because a half-open TCP socket never closes.
 *
 *   status: idle ─start()─▶ connecting ─open─▶ connected ─close─▶ reconnecting|unreachable|offline ─timer─▶ connecting
 */
import { backoffDelay } from '../protocol/backoff.js';
import { ProtocolError } from '../protocol/errors.js';
import {
  CLOSE_SESSION_GONE, PING_INTERVAL_MS, WS_PATH, decodeServerFrame, encodePing, encodeSubscribe,
} from '../protocol/frames.js';
import { Observable } from './observable.js';
import { errorCode } from './session.js';

/** @typedef {'idle'|'connecting'|'connected'|'reconnecting'|'unreachable'|'offline'} SyncStatus */

/** Failures in a row before "reconnecting" turns into "unreachable". */
const UNREACHABLE_AFTER = 3;
/** Our own close code for a connection we gave up on; 4000–4999 is application space. */
const CLOSE_CLIENT_RESET = 4000;

export class SyncClient extends Observable {
  /** @type {SyncStatus} */
  status = 'idle';
  cursor = 0;
  /** @type {string|null} the epoch of `cursor`; null from servers without epochs */
  epoch = null;
  /** @type {import('../protocol/schema.js').Device[]|null} */
  devices = null;

  /** @type {import('../platform/socket.js').SocketLike|null} */
  #socket = null;
  #attempt = 0;
  #generation = 0;
  #networkOnline = true;
  #needsBootstrap = true;
  #heardSincePing = true;
  #devicesVersion = 0;
  /** @type {unknown} */ #retryTimer = null;
  /** @type {unknown} */ #pingTimer = null;

  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('./store.js').ConversationStore} deps.store
   * @param {import('../platform/socket.js').SocketFactory} deps.socketFactory
   * @param {import('../platform/clock.js').Clock} deps.clock
   * @param {() => number} [deps.random]
   * @param {() => void} [deps.onSessionGone]
   * @param {(code: string) => void} [deps.onFatal] e.g. phone_unverified from the first fetch
   * @param {(added: import('../protocol/schema.js').Message[]) => void} [deps.onLive] messages new to the store, from the socket
   */
  constructor({
    api, store, socketFactory, clock, random = Math.random, onSessionGone = () => {}, onFatal = () => {}, onLive = () => {},
  }) {
    super();
    Object.assign(this, { api, store, socketFactory, clock, random, onSessionGone, onFatal, onLive });
  }

  /** Whether the thread list has been fetched at least once since start(). */
  get ready() {
    return !this.#needsBootstrap;
  }

  start() {
    if (this.status !== 'idle') return;
    this.#attempt = 0;
    this.#needsBootstrap = true;
    this.#setStatus('connecting');
    this.#connect();
  }

  stop() {
    this.#generation++;
    this.#clearTimers();
    const socket = this.#socket;
    this.#socket = null;
    socket?.close(1000, 'bye');
    this.cursor = 0;
    this.epoch = null;
    this.devices = null;
    this.#setStatus('idle');
  }

  /** Browser online/offline events: retry at once when the network returns. */
  setNetworkOnline(online) {
    this.#networkOnline = online;
    if (this.status === 'idle') return;
    if (!online && this.status !== 'connected') this.#setStatus('offline');
    if (online) this.retryNow();
  }

  /** Reconnect at once instead of waiting out the backoff (network back, or the user asked). */
  retryNow() {
    if (!['offline', 'reconnecting', 'unreachable'].includes(this.status)) return;
    this.clock.clearTimeout(this.#retryTimer);
    this.#attempt = 0;
    this.#setStatus('connecting');
    this.#connect();
  }

  async #connect() {
    const generation = ++this.#generation;
    if (this.#needsBootstrap && !(await this.#bootstrap(generation))) return;
    if (generation !== this.#generation) return;
    const socket = this.socketFactory(WS_PATH);
    this.#socket = socket;
    socket.onopen = () => generation === this.#generation && this.#opened(socket);
    socket.onmessage = (text) => generation === this.#generation && this.#received(socket, text);
    socket.onclose = (event) => generation === this.#generation && this.#closed(event.code);
  }

  /** @param {number} generation @returns {Promise<boolean>} whether to go on connecting */
  async #bootstrap(generation) {
    try {
      const { threads, seq, epoch } = await this.api.threads();
      if (generation !== this.#generation) return false;
      this.store.replaceThreads(threads);
      this.cursor = seq;
      this.epoch = epoch ?? null;
      this.#needsBootstrap = false;
      return true;
    } catch (err) {
      if (generation !== this.#generation) return false;
      const code = errorCode(err);
      if (code === 'unauthenticated') this.#sessionGone();
      else if (code === 'phone_unverified') {
        this.stop();
        this.onFatal(code);
      } else this.#scheduleRetry();
      return false;
    }
  }

  /** @param {import('../platform/socket.js').SocketLike} socket */
  #opened(socket) {
    socket.send(encodeSubscribe(this.cursor, this.epoch));
    this.#attempt = 0;
    this.#heardSincePing = true;
    this.#schedulePing(socket);
    this.#setStatus('connected');
    this.refreshDevices();
  }

  /** Bridge presence may have changed while we were away; a `device` frame wins a race. */
  async refreshDevices() {
    const version = ++this.#devicesVersion;
    try {
      const devices = await this.api.devices();
      if (version !== this.#devicesVersion) return;
      this.devices = devices;
      this.emitChange();
    } catch {
      // Not worth a reconnect; the next `device` frame fills this in.
    }
  }

  /** @param {import('../platform/socket.js').SocketLike} socket @param {string} text */
  #received(socket, text) {
    this.#heardSincePing = true;
    let frame;
    try {
      frame = decodeServerFrame(text);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      // We cannot know what we missed; the cursor did not move, so a fresh
      // connection replays it.
      this.#drop(socket);
      return;
    }
    switch (frame.t) {
      case 'changes': {
        if (frame.epoch !== null && this.epoch !== null && frame.epoch !== this.epoch) {
          // Another history: our state cannot be patched into it. Start over.
          this.#needsBootstrap = true;
          this.#drop(socket);
          break;
        }
        const added = this.store.applyChanges(frame.messages, frame.threads);
        this.cursor = Math.max(this.cursor, frame.upto);
        if (frame.epoch !== null) this.epoch = frame.epoch;
        if (added.length) this.onLive(added);
        break;
      }
      case 'device':
        this.#devicesVersion++;
        this.devices = frame.devices;
        this.emitChange();
        break;
      case 'resync':
        this.#resync(socket);
        break;
      case 'error':
        if (frame.code === 'unauthenticated') this.#sessionGone();
        else if (frame.code === 'phone_unverified') {
          this.stop();
          this.onFatal(frame.code);
        }
        break;
      default:
        break; // pong and frames from newer servers
    }
  }

  /** @param {import('../platform/socket.js').SocketLike} socket */
  async #resync(socket) {
    const generation = this.#generation;
    try {
      const { threads, seq, epoch } = await this.api.threads();
      if (generation !== this.#generation) return;
      this.store.replaceThreads(threads);
      this.cursor = seq;
      this.epoch = epoch ?? null;
      socket.send(encodeSubscribe(seq, this.epoch));
    } catch (err) {
      if (generation !== this.#generation) return;
      if (errorCode(err) === 'unauthenticated') this.#sessionGone();
      else {
        this.#needsBootstrap = true;
        this.#drop(socket);
      }
    }
  }

  /** @param {number} code */
  #closed(code) {
    this.#socket = null;
    this.clock.clearTimeout(this.#pingTimer);
    if (code === CLOSE_SESSION_GONE) this.#sessionGone();
    else this.#scheduleRetry();
  }

  /** Abandon a connection and reconnect; the socket's own close event is ignored. */
  /** @param {import('../platform/socket.js').SocketLike} socket */
  #drop(socket) {
    this.#generation++;
    this.#socket = null;
    this.clock.clearTimeout(this.#pingTimer);
    socket.close(CLOSE_CLIENT_RESET, 'client reset');
    this.#scheduleRetry();
  }

  #scheduleRetry() {
    const delay = backoffDelay(this.#attempt, this.random());
    this.#attempt++;
    if (!this.#networkOnline) this.#setStatus('offline');
    else this.#setStatus(this.#attempt >= UNREACHABLE_AFTER ? 'unreachable' : 'reconnecting');
    this.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = this.clock.setTimeout(() => this.#connect(), delay);
  }

  /** @param {import('../platform/socket.js').SocketLike} socket */
  #schedulePing(socket) {
    this.#pingTimer = this.clock.setTimeout(() => {
      if (!this.#heardSincePing) {
        this.#drop(socket);
        return;
      }
      this.#heardSincePing = false;
      socket.send(encodePing());
      this.#schedulePing(socket);
    }, PING_INTERVAL_MS);
  }

  #sessionGone() {
    this.stop();
    this.onSessionGone();
  }

  #clearTimers() {
    this.clock.clearTimeout(this.#retryTimer);
    this.clock.clearTimeout(this.#pingTimer);
  }

  /** @param {SyncStatus} status */
  #setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.emitChange();
  }
}
