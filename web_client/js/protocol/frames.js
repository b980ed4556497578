/**
 * Browser websocket frames (`/api/v1/ws`), one JSON object per text frame.
 *
 *   client → server   subscribe {since, epoch}, ping
 *   server → client   changes {messages, threads, upto, epoch}, device {devices},
 *                     resync, pong, error {code, message}
 *
 * A cursor (`since`, `upto`) belongs to an epoch: after a restore the server
 * changes it, and a cursor of another epoch gets `resync`.
 *
 * Unknown frame types decode to `{t: 'unknown'}` so a newer server can add
 * frames without breaking older tabs; malformed known frames raise.
 */
import { FrameTooLargeError, ProtocolError } from './errors.js';
import {
  int, list, object, parseDevice, parseEpoch, parseMessage, parseThread, str,
} from './schema.js';

/** A full backlog can be large, but not unbounded. */
export const MAX_FRAME_CHARS = 16 * 1024 * 1024;
/** The server closes with this code when the session cookie is no longer valid. */
export const CLOSE_SESSION_GONE = 4401;
export const WS_PATH = '/api/v1/ws';
export const PING_INTERVAL_MS = 25_000;

/**
 * @typedef {{t: 'changes', messages: import('./schema.js').Message[], threads: import('./schema.js').Thread[], upto: number, epoch: string|null}
 *   | {t: 'device', devices: import('./schema.js').Device[]}
 *   | {t: 'resync'} | {t: 'pong'} | {t: 'unknown'}
 *   | {t: 'error', code: string, message: string}} ServerFrame
 */

/**
 * @param {string} text raw text frame
 * @returns {ServerFrame}
 * @throws {ProtocolError} on oversized, non-JSON or malformed frames
 */
export function decodeServerFrame(text) {
  if (text.length > MAX_FRAME_CHARS) throw new FrameTooLargeError(text.length);
  let raw;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProtocolError('frame is not JSON');
  }
  const f = object(raw, 'frame');
  switch (f.t) {
    case 'changes':
      return {
        t: 'changes',
        messages: list(f.messages ?? [], 'messages', parseMessage),
        threads: list(f.threads ?? [], 'threads', parseThread),
        upto: int(f.upto, 'upto'),
        epoch: parseEpoch(f.epoch),
      };
    case 'device':
      return { t: 'device', devices: list(f.devices, 'devices', parseDevice) };
    case 'resync':
    case 'pong':
      return { t: f.t };
    case 'error':
      return { t: 'error', code: str(f.code ?? 'error', 'code'), message: str(f.message ?? '', 'message') };
    default:
      return { t: 'unknown' };
  }
}

/**
 * @param {number} since last applied seq; 0 on first connect
 * @param {string|null} [epoch] the epoch of `since`, if the server named one
 */
export function encodeSubscribe(since, epoch = null) {
  return JSON.stringify(epoch == null ? { t: 'subscribe', since } : { t: 'subscribe', since, epoch });
}

export function encodePing() {
  return JSON.stringify({ t: 'ping' });
}
