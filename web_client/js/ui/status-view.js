/**
 * The status bar: a connection banner (only when something is wrong, with
 * "Retry now"), our link to the server, and one chip per phone bridge with
 * its modem's signal bars and network, or a summary chip for many bridges.
 */
import { SERVER_LABELS } from '../domain/connection-status.js';
import { h, icon, reconcile, setAttr, setText } from './dom.js';
import { ICONS } from './icons.js';

/** @typedef {import('../domain/connection-status.js').BridgeSummary} BridgeSummary */
/** @typedef {import('../domain/connection-status.js').BridgeView} BridgeView */

const BANNERS = {
  reconnecting: 'Connection lost. Reconnecting…',
  unreachable: 'Can’t reach the Ferry server. Retrying…',
  offline: 'You’re offline. New messages will appear when the connection is back.',
};

export class ConnectionBannerView {
  /** @param {{retryConnection?: () => void}} [intents] */
  constructor(intents = {}) {
    this.text = h('span');
    this.retry = h('button', { type: 'button', class: 'link-button banner-action', text: 'Retry now',
      onclick: () => intents.retryConnection?.() });
    this.root = h('div', { class: 'banner', role: 'status', hidden: true }, icon(ICONS.cloudOff), this.text, this.retry);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.prepend(this.root);
  }

  /** @param {string} status */
  update(status) {
    const text = BANNERS[/** @type {keyof BANNERS} */ (status)] ?? '';
    setText(this.text, text);
    this.root.hidden = !text;
    this.retry.hidden = status !== 'unreachable' && status !== 'reconnecting';
    this.root.className = `banner banner-${status}`;
  }

  unmount() {
    this.root.remove();
  }
}

export class StatusChipsView {
  /** @type {Map<string, Element>} */ #bridges = new Map();

  constructor() {
    this.server = h('span', { class: 'chip', 'data-state': 'idle' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span'));
    this.summary = h('span', { class: 'chip chip-bridge', 'data-state': 'unknown' }, icon(ICONS.phone, 'icon chip-icon'), h('span'));
    this.bridges = h('span', { class: 'chips-bridges' });
    this.root = h('div', { class: 'chips', role: 'group', 'aria-label': 'Status' }, this.server, this.summary, this.bridges);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {{connection: string, bridge: BridgeSummary}} state */
  update(state) {
    setAttr(this.server, 'data-state', state.connection);
    setText(/** @type {Element} */ (this.server.lastElementChild), SERVER_LABELS[/** @type {keyof SERVER_LABELS} */ (state.connection)] ?? '');
    const { bridge } = state;
    // One bridge, or several listed: a chip each. Otherwise (none, unknown, many): one summary chip.
    const listed = bridge.devices.length > 0 && bridge.state !== 'unknown';
    this.summary.hidden = listed;
    setAttr(this.summary, 'data-state', bridge.state);
    setText(/** @type {Element} */ (this.summary.lastElementChild), listed ? '' : bridge.label);
    reconcile(this.bridges, listed ? bridge.devices : [], this.#bridges, (d) => d.id, createBridgeChip, refreshBridgeChip);
  }

  unmount() {
    this.root.remove();
  }
}

function createBridgeChip() {
  const bars = [1, 2, 3, 4].map((n) => h('span', { class: `signal-bar signal-bar-${n}` }));
  return h('span', { class: 'chip chip-bridge' },
    icon(ICONS.phone, 'icon chip-icon'),
    h('span', { class: 'chip-label' }),
    h('span', { class: 'signal', role: 'img' }, ...bars),
    h('span', { class: 'chip-operator' }),
    h('span', { class: 'chip-detail' }));
}

/** @param {Element} chip @param {BridgeView} d */
function refreshBridgeChip(chip, d) {
  setAttr(chip, 'data-state', d.state);
  const label = /** @type {Element} */ (chip.querySelector('.chip-label'));
  setText(label, d.label);
  setAttr(label, 'title', d.label); // the whole name, when a long one is cut short
  const signal = /** @type {HTMLElement} */ (chip.querySelector('.signal'));
  signal.hidden = !d.signal;
  setAttr(signal, 'aria-label', d.signal?.label ?? null);
  setAttr(signal, 'title', d.signal?.label ?? null);
  setAttr(signal, 'data-bars', d.signal?.bars ?? null);
  const operator = /** @type {HTMLElement} */ (chip.querySelector('.chip-operator'));
  setText(operator, d.operator ?? '');
  operator.hidden = !d.operator;
  const detail = /** @type {HTMLElement} */ (chip.querySelector('.chip-detail'));
  setText(detail, d.detail ? `· ${d.detail}` : '');
  detail.hidden = !d.detail;
}
