/**
 * The "link a phone" dialog: one step (run `ferry bridge pair` on the computer
 * next to the phone or modem) with two ways to give it the code, shown as
 * alternatives, not as numbered steps: the link (also in the QR code,
 * server-made SVG shown through an <img> so its markup never enters the page),
 * or the server address with the typed code. A countdown to expiry below.
 */
import { mmss } from '../domain/pairing-model.js';
import { Modal } from './dialog.js';
import { h, setAttr, setText } from './dom.js';

export class PairingDialog {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.modal = new Modal({ title: 'Link a phone', className: 'dialog-pairing', onClose: () => intents.closePairing() });
    this.qr = /** @type {HTMLImageElement} */ (h('img', { class: 'pairing-qr', alt: 'Pairing QR code', width: 240, height: 240 }));
    this.code = h('code', { class: 'pairing-code' });
    this.server = h('code', { class: 'pairing-server' });
    this.uri = /** @type {HTMLInputElement} */ (h('input', { class: 'pairing-uri', readonly: true, id: 'pairing-uri', 'aria-label': 'Pairing link' }));
    this.copy = h('button', { type: 'button', class: 'button button-quiet', onclick: () => this.#copy() }, 'Copy link');
    this.countdown = h('p', { class: 'pairing-countdown', 'aria-live': 'off' });
    this.status = h('p', { class: 'pairing-status', role: 'status' });
    this.again = h('button', { type: 'button', class: 'button button-primary', onclick: () => intents.openPairing() }, 'Get a new code');
    this.done = h('button', { type: 'button', class: 'button button-primary', onclick: () => this.modal.dismiss() }, 'Done');
    this.offer = h('div', { class: 'pairing-offer' },
      h('div', { class: 'pairing-qr-frame' }, this.qr),
      h('div', { class: 'pairing-details' },
        h('p', { class: 'pairing-intro' }, 'On the computer next to your phone or modem, run ',
          h('code', { text: 'ferry bridge pair' }), ' with either of these:'),
        h('section', { class: 'pairing-choice', 'aria-label': 'The pairing link' },
          h('p', { class: 'pairing-label', text: 'The link (the QR code holds it too)' }),
          h('div', { class: 'pairing-uri-row' }, this.uri, this.copy)),
        h('p', { class: 'pairing-or', text: 'or' }),
        h('section', { class: 'pairing-choice', 'aria-label': 'The server address and code' },
          h('p', { class: 'pairing-label', text: 'The server address and the code' }),
          this.server, this.code),
        this.countdown));
    this.modal.body.append(this.offer, this.status, h('div', { class: 'dialog-actions' }, this.again, this.done));
  }

  /** @param {ReturnType<import('../domain/pairing-model.js').PairingModel['snapshot']>} p */
  update(p) {
    if (p.state === 'closed') {
      this.modal.close();
      return;
    }
    const wasOpen = this.modal.isOpen;
    this.modal.open();
    const showing = p.state === 'showing';
    this.offer.hidden = !showing;
    if (showing && this.qr.getAttribute('src') !== p.qrSrc) this.qr.src = p.qrSrc;
    setText(this.code, p.code);
    setText(this.server, p.serverUrl);
    if (this.uri.value !== p.uri) this.uri.value = p.uri;
    setText(this.countdown, `Expires in ${mmss(p.secondsLeft)}`);
    setAttr(this.countdown, 'data-urgent', p.secondsLeft < 60 ? 'true' : null);
    setText(this.status, STATUS[p.state](p));
    this.status.dataset.state = p.state;
    this.again.hidden = p.state !== 'expired' && p.state !== 'error';
    this.done.hidden = p.state !== 'paired';
    if (!wasOpen) (showing ? this.copy : this.modal.root.querySelector('button'))?.focus();
    if (p.state === 'paired') this.done.focus();
  }

  unmount() {
    this.modal.unmount();
  }

  async #copy() {
    try {
      await navigator.clipboard.writeText(this.uri.value);
      setText(this.copy, 'Copied');
    } catch {
      this.uri.select();
    }
  }
}

/** @type {Record<string, (p: {error: string|null, pairedName: string|null}) => string>} */
const STATUS = {
  closed: () => '',
  loading: () => 'Making a pairing code…',
  showing: () => '',
  expired: () => 'This code has expired.',
  paired: (p) => `${p.pairedName} is linked. Your texts will start to sync.`,
  error: (p) => p.error ?? 'Something went wrong.',
};
