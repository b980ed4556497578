/**
 * Connection banner (only when something is wrong) and the two status chips:
 * our link to the server, and the phone bridge's link to the server.
 */
import { h, icon, setAttr, setText } from './dom.js';
import { ICONS } from './icons.js';

const BANNERS = {
  reconnecting: 'Connection lost. Reconnecting…',
  offline: 'You’re offline. New messages will appear when the connection is back.',
};
const CONNECTION_LABELS = {
  idle: 'Not connected', connecting: 'Connecting…', connected: 'Connected',
  reconnecting: 'Reconnecting…', offline: 'Offline',
};

export class ConnectionBannerView {
  constructor() {
    this.text = h('span');
    this.root = h('div', { class: 'banner', role: 'status', hidden: true }, icon(ICONS.cloudOff), this.text);
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
    this.root.className = `banner banner-${status}`;
  }

  unmount() {
    this.root.remove();
  }
}

export class StatusChipsView {
  constructor() {
    this.server = h('span', { class: 'chip', 'data-state': 'idle' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span'));
    this.bridge = h('span', { class: 'chip', 'data-state': 'unknown' }, icon(ICONS.phone, 'icon chip-icon'), h('span'));
    this.root = h('div', { class: 'chips', role: 'group', 'aria-label': 'Status' }, this.server, this.bridge);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {{connection: string, bridge: {state: string, label: string}}} state */
  update(state) {
    setAttr(this.server, 'data-state', state.connection);
    setText(/** @type {Element} */ (this.server.lastElementChild), CONNECTION_LABELS[/** @type {keyof CONNECTION_LABELS} */ (state.connection)] ?? '');
    setAttr(this.bridge, 'data-state', state.bridge.state);
    setText(/** @type {Element} */ (this.bridge.lastElementChild), state.bridge.label);
  }

  unmount() {
    this.root.remove();
  }
}
