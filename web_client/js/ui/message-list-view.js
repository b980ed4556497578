/**
 * The scrolling log of bubbles, grouped under day headings. Bubbles are keyed
 * (by client_msg_id when there is one) so a message keeps its element from
 * "Sending…" to "Delivered", and the scroll position stays put:
 * - pinned to the bottom while the reader is at the bottom,
 * - anchored to the old content when an older page is prepended.
 * Scrolling near the top loads the previous page by itself (the "Load earlier
 * messages" button stays for keyboards); away from the bottom, "Jump to
 * latest" appears. Bodies get dir="auto", so right-to-left text reads right.
 */
import { confirmDialog } from './dialog.js';
import { h, icon, reconcile, setAttr, setText } from './dom.js';
import { ICONS } from './icons.js';

/** @typedef {import('../domain/thread-model.js').BubbleView} BubbleView */
/** @typedef {{key: string, label: string, messages: BubbleView[]}} DayGroup */

const NEAR_BOTTOM_PX = 80;
/** Load the previous page when the reader is this close to the top. */
const NEAR_TOP_PX = 300;

export class MessageListView {
  /** @type {Map<string, Element>} */ #days = new Map();
  /** One keyed cache per day section, since reconcile prunes whatever a pass did not see. */
  /** @type {WeakMap<Element, Map<string, Element>>} */ #bubbles = new WeakMap();

  hasMore = false;
  loadingOlder = false;

  /**
   * @param {{retry: (id: string) => void, discard: (id: string) => void, loadOlder?: () => void,
   *   resend?: (messageId: number) => void, maskMessage?: (messageId: number) => void}} intents
   */
  constructor(intents) {
    this.intents = intents;
    this.older = h('button', { type: 'button', class: 'button button-quiet load-older', hidden: true,
      onclick: () => intents.loadOlder?.() }, 'Load earlier messages');
    this.status = h('p', { class: 'log-status', role: 'status' });
    this.days = h('div', { class: 'days' });
    this.latest = h('button', { type: 'button', class: 'button jump-latest', hidden: true,
      onclick: () => this.#jumpToLatest() }, icon(ICONS.down), h('span', { text: 'Jump to latest' }));
    this.root = h('div', { class: 'log', role: 'log', tabindex: 0, onscroll: () => this.#scrolled() },
      this.older, this.status, this.days);
    this.frame = h('div', { class: 'log-frame' }, this.root, this.latest);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.frame);
  }

  /**
   * @param {{groups: DayGroup[], hasMore?: boolean, loading?: boolean, loadingOlder?: boolean, error?: string|null, label: string}} state
   */
  update(state) {
    setAttr(this.root, 'aria-label', state.label);
    setAttr(this.root, 'aria-busy', state.loading ? 'true' : null);
    this.hasMore = Boolean(state.hasMore);
    this.loadingOlder = Boolean(state.loadingOlder);
    this.older.hidden = !state.hasMore;
    /** @type {HTMLButtonElement} */ (this.older).disabled = Boolean(state.loadingOlder);
    setText(this.older, state.loadingOlder ? 'Loading…' : 'Load earlier messages');
    setText(this.status, state.error ?? (state.loading && !state.groups.length ? 'Loading messages…' : ''));
    const before = this.#scrollAnchor();
    reconcile(this.days, state.groups, this.#days, (g) => g.key, (g) => this.#createDay(g),
      (el, g) => this.#refreshDay(el, g));
    this.#restoreScroll(before);
    this.#scrolled();
  }

  unmount() {
    this.frame.remove();
  }

  scrollToBottom() {
    this.root.scrollTop = this.root.scrollHeight;
  }

  #nearBottom() {
    const { scrollTop, scrollHeight, clientHeight } = this.root;
    return scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
  }

  /** Infinite scroll back through history, and the "Jump to latest" button. */
  #scrolled() {
    this.latest.hidden = this.#nearBottom();
    const scrollable = this.root.scrollHeight > this.root.clientHeight;
    if (scrollable && this.root.scrollTop < NEAR_TOP_PX && this.hasMore && !this.loadingOlder) {
      this.loadingOlder = true; // until the model says otherwise: one request per approach
      this.intents.loadOlder?.();
    }
  }

  #jumpToLatest() {
    this.scrollToBottom();
    this.latest.hidden = true;
    this.root.focus();
  }

  /**
   * Scroll a message into the middle and flash it (a search hit).
   * @param {string} key @returns {boolean} whether the message is on screen yet
   */
  reveal(key) {
    const el = this.days.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!el) return false;
    el.scrollIntoView({ block: 'center' });
    for (const old of this.days.querySelectorAll('[data-found]')) old.removeAttribute('data-found');
    el.setAttribute('data-found', 'true');
    return true;
  }

  #scrollAnchor() {
    const { scrollTop, scrollHeight, clientHeight } = this.root;
    const lastKey = this.days.lastElementChild?.querySelector('.msg:last-child')?.getAttribute('data-key') ?? null;
    return { atBottom: scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX, fromBottom: scrollHeight - scrollTop, lastKey };
  }

  /** @param {{atBottom: boolean, fromBottom: number, lastKey: string|null}} before */
  #restoreScroll(before) {
    const last = this.days.lastElementChild?.querySelector('.msg:last-child');
    const grewAtEnd = last?.getAttribute('data-key') !== before.lastKey;
    const sentByMe = grewAtEnd && last?.classList.contains('msg-out');
    if (before.atBottom || sentByMe) this.scrollToBottom();
    else if (!grewAtEnd) this.root.scrollTop = this.root.scrollHeight - before.fromBottom;
  }

  /** @param {DayGroup} group */
  #createDay(group) {
    const headingId = `day-${group.key}`;
    return h('section', { class: 'day', 'aria-labelledby': headingId },
      h('h3', { class: 'day-label', id: headingId }),
      h('ol', { class: 'day-messages' }));
  }

  /** @param {Element} section @param {DayGroup} group */
  #refreshDay(section, group) {
    setText(/** @type {Element} */ (section.firstElementChild), group.label);
    if (!this.#bubbles.has(section)) this.#bubbles.set(section, new Map());
    const cache = /** @type {Map<string, Element>} */ (this.#bubbles.get(section));
    reconcile(/** @type {Element} */ (section.lastElementChild), group.messages, cache, (m) => m.key,
      (m) => this.#createBubble(m), refreshBubble);
  }

  /** @param {BubbleView} m */
  #createBubble(m) {
    if (m.refused) return createRefusal();
    const retry = h('button', { type: 'button', class: 'link-button msg-retry', text: 'Retry',
      onclick: () => this.#act(li, this.intents.retry) });
    const discard = h('button', { type: 'button', class: 'link-button msg-discard', text: 'Delete',
      onclick: () => this.#act(li, this.intents.discard) });
    const resend = h('button', { type: 'button', class: 'link-button msg-resend', text: 'Resend',
      onclick: () => this.#resend(li) });
    const li = h('li', { class: `msg msg-${m.direction}`, 'data-key': m.key },
      h('div', { class: 'bubble', dir: 'auto' }),
      h('div', { class: 'msg-attachments' }),
      h('p', { class: 'msg-incomplete', text: 'Part of this message never arrived.' }),
      h('div', { class: 'msg-meta' },
        h('span', { class: 'visually-hidden msg-who', text: m.direction === 'out' ? 'You' : 'They' }),
        h('time', { class: 'msg-time' }),
        h('span', { class: 'msg-status' }),
      h('button', { type: 'button', class: 'link-button msg-mask', text: 'Mask',
        'aria-label': 'Mask this message', onclick: () => this.#mask(li) })),
      h('p', { class: 'msg-error' }),
      h('details', { class: 'msg-error-detail' },
        h('summary', { text: 'Details' }),
        h('code', { class: 'msg-error-detail-text' })),
      h('div', { class: 'msg-actions' }, retry, discard, resend));
    return li;
  }

  /** Resending an SMS whose fate is unknown may deliver it twice: ask first. @param {Element} li */
  async #resend(li) {
    const id = Number(li.getAttribute('data-message-id'));
    if (!id) return;
    if (li.classList.contains('status-unknown')) {
      const ok = await confirmDialog({
        title: 'Send again?',
        text: 'This message may have been delivered already; sending it again could deliver it twice.',
        confirm: 'Send again',
      });
      if (!ok) return;
    }
    this.intents.resend?.(id);
  }

  /** Irreversible: ask first, saying so. @param {Element} li */
  async #mask(li) {
    const id = Number(li.getAttribute('data-message-id'));
    if (!id) return;
    const ok = await confirmDialog({
      title: 'Mask this message?',
      text: 'Its content is destroyed for good and shows as ***** everywhere. This cannot be undone, not even by you.',
      confirm: 'Mask for good',
    });
    if (ok) this.intents.maskMessage?.(id);
  }

  /** @param {Element} li @param {(id: string) => void} action */
  #act(li, action) {
    const id = li.getAttribute('data-client-id');
    if (id) action(id);
  }
}

/**
 * A message the server could not store: a notice in the flow of the
 * conversation, not a bubble (it has no text to show).
 */
function createRefusal() {
  return h('li', { class: 'msg msg-refused' },
    h('p', { class: 'msg-refused-text' }, icon(ICONS.warning, 'icon msg-refused-icon'), h('span')),
    h('time', { class: 'msg-time' }));
}

/** @param {Element} li @param {BubbleView} m */
function refreshBubble(li, m) {
  if (m.refused) {
    setAttr(li, 'data-key', m.key);
    setText(/** @type {Element} */ (li.querySelector('.msg-refused-text span')), m.refused);
    const time = /** @type {Element} */ (li.querySelector('.msg-time'));
    setText(time, m.time);
    setAttr(time, 'datetime', m.timestamp);
    return;
  }
  li.className = `msg msg-${m.direction} status-${m.status}${m.masked ? ' msg-masked' : ''}`;
  setAttr(li, 'data-client-id', m.clientMsgId);
  setAttr(li, 'data-message-id', m.id);
  const body = /** @type {HTMLElement} */ (li.querySelector('.bubble'));
  setText(body, m.body);
  setAttr(body, 'title', m.masked ? 'Masked: its content was destroyed for good' : null);
  body.hidden = !m.body && m.attachments.length > 0;
  refreshAttachments(/** @type {HTMLElement} */ (li.querySelector('.msg-attachments')), m.attachments);
  const time = /** @type {Element} */ (li.querySelector('.msg-time'));
  setText(time, m.time);
  setAttr(time, 'datetime', m.timestamp);
  const status = /** @type {HTMLElement} */ (li.querySelector('.msg-status'));
  setText(status, m.statusLabel);
  status.hidden = !m.statusLabel;
  const error = /** @type {HTMLElement} */ (li.querySelector('.msg-error'));
  setText(error, m.error ?? '');
  error.hidden = !m.error;
  const detail = /** @type {HTMLDetailsElement} */ (li.querySelector('.msg-error-detail'));
  setText(/** @type {Element} */ (detail.querySelector('code')), m.errorDetail ?? '');
  detail.hidden = !m.error || !m.errorDetail;
  /** @type {HTMLElement} */ (li.querySelector('.msg-incomplete')).hidden = !m.incomplete;
  // Only a stored message with content left can be masked.
  /** @type {HTMLElement} */ (li.querySelector('.msg-mask')).hidden = m.masked || m.id === null || m.clientMsgId !== null;
  const actions = /** @type {HTMLElement} */ (li.querySelector('.msg-actions'));
  // Unsent here (refused, or waiting for the server): the user may retry now or delete it.
  const pendingFailed = Boolean(m.clientMsgId) && (m.status === 'failed' || m.status === 'waiting');
  actions.hidden = !pendingFailed && !m.resend;
  /** @type {HTMLElement} */ (actions.querySelector('.msg-retry')).hidden = !pendingFailed || !m.retryable;
  /** @type {HTMLElement} */ (actions.querySelector('.msg-discard')).hidden = !pendingFailed;
  /** @type {HTMLElement} */ (actions.querySelector('.msg-resend')).hidden = !m.resend;
}

/**
 * Images inline (lazy, size-capped; the link opens the full image in a new
 * tab), other files as a chip with name, size and a download link.
 * @param {HTMLElement} box @param {import('../domain/attachments.js').AttachmentView[]} items
 */
function refreshAttachments(box, items) {
  const keys = items.map((a) => a.key).join(' ');
  box.hidden = items.length === 0;
  if (box.getAttribute('data-keys') === keys) return;
  box.setAttribute('data-keys', keys);
  box.replaceChildren(...items.map((a) => (a.kind === 'image'
    ? h('a', { class: 'attachment-image', href: a.url, target: '_blank', rel: 'noopener', title: a.label },
      h('img', { src: a.url, alt: a.name, loading: 'lazy', decoding: 'async' }))
    : h('a', { class: 'attachment-file', href: a.downloadUrl, download: a.name, 'aria-label': a.label },
      icon(ICONS.file, 'icon attachment-file-icon'),
      h('span', { class: 'attachment-file-text' },
        h('span', { class: 'attachment-file-name', dir: 'auto', text: a.name }),
        h('span', { class: 'attachment-file-size', text: a.size }))))));
}
