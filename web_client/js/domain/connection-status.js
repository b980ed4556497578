/**
 * Owns what the status bar says (pure, no DOM): our link to the server, and
 * each phone bridge's link to the server with its modem's signal and network
 * as the bridge last reported them.
 *
 * A bridge's state is only known through the server, so while our own
 * connection is down every bridge reads "unknown" rather than a stale
 * "connected". A connected bridge whose modem stopped answering reads "modem
 * not responding", with no bars and no network (they are unknown then).
 */
import { timeAgo } from './time.js';

/** @typedef {import('../protocol/schema.js').Device} Device */
/** @typedef {import('./sync-client.js').SyncStatus} SyncStatus */

/**
 * @typedef {object} SignalView
 * @property {number} bars 0–4
 * @property {number} dbm
 * @property {string} label e.g. "Signal 3 of 4 bars (−95 dBm)"
 *
 * @typedef {object} BridgeView
 * @property {string} id
 * @property {'online'|'trouble'|'offline'|'unknown'} state trouble: connected, modem not answering
 * @property {string} label e.g. "Pixel 8 connected", "Pixel 8 offline", "Pixel 8: modem not responding"
 * @property {string} detail e.g. "last seen 5 min ago"; empty when online
 * @property {SignalView|null} signal
 * @property {string|null} operator
 *
 * @typedef {object} BridgeSummary
 * @property {'unknown'|'none'|'online'|'trouble'|'offline'|'partial'} state
 * @property {string} label one line for all bridges
 * @property {BridgeView[]} devices each bridge, or [] when there are too many to list
 */

/** More bridges than this and the status bar shows one summary chip. */
const MAX_LISTED = 3;

export const SERVER_LABELS = Object.freeze({
  idle: 'Not connected', connecting: 'Connecting…', connected: 'Connected',
  reconnecting: 'Reconnecting…', unreachable: 'Server unreachable', offline: 'Offline',
});

/**
 * Bars as a GSM phone draws them (Android's thresholds on the RSSI in dBm).
 * @param {number} dbm @returns {number} 0–4
 */
export function signalBars(dbm) {
  if (dbm >= -89) return 4;
  if (dbm >= -97) return 3;
  if (dbm >= -103) return 2;
  if (dbm >= -113) return 1;
  return 0;
}

/** @param {number|null} dbm @returns {SignalView|null} */
export function signalView(dbm) {
  if (dbm === null) return null;
  const bars = signalBars(dbm);
  // U+2212 MINUS SIGN reads as "minus" in screen readers, where "-" may be silent.
  return { bars, dbm, label: `Signal ${bars} of 4 bars (${String(dbm).replace('-', '\u2212')} dBm)` };
}

/**
 * @param {Device} d @param {boolean} known whether our server link is up
 * @param {number} now @param {import('./time.js').TimeOptions} [opts]
 * @returns {BridgeView}
 */
export function bridgeView(d, known, now, opts = {}) {
  const name = d.name || 'Phone';
  if (!known) return { id: d.id, state: 'unknown', label: `${name}: status unknown`, detail: '', signal: null, operator: null };
  if (d.online && d.modem_state === 'not_responding') {
    return { id: d.id, state: 'trouble', label: `${name}: modem not responding`, detail: '', signal: null, operator: null };
  }
  if (d.online) {
    const starting = d.modem_state === 'starting';
    const importing = d.importing
      ? `Importing ${d.importing.done.toLocaleString('en-US')} of ${d.importing.total.toLocaleString('en-US')}`
      : '';
    return {
      id: d.id, state: 'online', label: `${name} connected`, detail: starting ? 'modem starting' : importing,
      signal: starting ? null : signalView(d.signal_dbm), operator: starting ? null : d.operator,
    };
  }
  const detail = d.last_seen ? `last seen ${timeAgo(d.last_seen, now, opts)}` : 'never connected';
  return { id: d.id, state: 'offline', label: `${name} offline`, detail, signal: null, operator: null };
}

/**
 * What the compose box says about where a message goes next, when the bridges
 * cannot send it now (the server keeps it queued).
 * @param {BridgeSummary} bridge @returns {string}
 */
export function composeNotice(bridge) {
  if (bridge.state === 'trouble') {
    return 'Your phone’s modem is not responding. Messages you send wait in the queue and go out when it answers again.';
  }
  if (bridge.state === 'offline') return 'Your phone is offline. Messages you send wait in the queue and go out when it reconnects.';
  if (bridge.state === 'none') return 'No phone is linked yet. Messages you send wait in the queue until you link one in Settings.';
  return '';
}

/**
 * @param {Device[]|null} devices null until the server has told us
 * @param {SyncStatus} connection
 * @param {number} now @param {import('./time.js').TimeOptions} [opts]
 * @returns {BridgeSummary}
 */
export function bridgeSummary(devices, connection, now, opts = {}) {
  if (devices === null) return { state: 'unknown', label: 'Checking phone…', devices: [] };
  if (devices.length === 0) return { state: 'none', label: 'No phone linked', devices: [] };
  const known = connection === 'connected';
  const views = devices.map((d) => bridgeView(d, known, now, opts));
  const listed = views.length <= MAX_LISTED ? views : [];
  if (!known) return { state: 'unknown', label: 'Phone status unknown', devices: listed };
  const online = views.filter((v) => v.state === 'online').length;
  const trouble = views.filter((v) => v.state === 'trouble').length;
  if (views.length === 1) {
    const [only] = views;
    return { state: only.state, label: [only.label, only.detail].filter(Boolean).join(' · '), devices: listed };
  }
  const state = online === views.length ? 'online' : online === 0 ? (trouble ? 'trouble' : 'offline') : 'partial';
  const label = online === views.length ? `${online} phones connected`
    : online === 0 && !trouble ? `${views.length} phones offline` : `${online} of ${views.length} phones connected`;
  const modems = trouble === 0 ? '' : trouble === 1 ? ' · 1 modem not responding' : ` · ${trouble} modems not responding`;
  return { state, label: label + modems, devices: listed };
}
