/** "What Ferry stores about you": counts and sizes, where they are, how long they stay. */
import { byteSize } from '../../domain/privacy-model.js';
import { h } from '../dom.js';
import { ICONS } from '../icons.js';
import { privacySection } from './section.js';

export class StoredSection {
  /** @type {string} */ #key = '';

  constructor() {
    this.list = h('dl', { class: 'privacy-facts', 'aria-label': 'What Ferry stores about you' });
    this.keeps = h('ul', { class: 'privacy-keeps' });
    this.root = privacySection('What Ferry stores about you', ICONS.shield,
      'Everything below is on the server you signed in to, in its database. The text of your messages '
      + 'and their pictures and files are encrypted there with a key of your account.',
      this.list, this.keeps);
  }

  /** @param {import('./section.js').PrivacyState} s */
  update(s) {
    const key = JSON.stringify([s.privacy, s.devices?.length]);
    if (key === this.#key) return;
    this.#key = key;
    if (!s.privacy) {
      this.list.replaceChildren(h('div', { class: 'settings-empty', text: 'Loading…' }));
      return;
    }
    const n = s.privacy.stored;
    const rows = [
      ['Messages', `${n.messages}` + (n.masked ? ` (${n.masked} masked)` : '')],
      ['Conversations', `${n.threads}`],
      ['Contacts', `${n.contacts}`],
      ['Pictures and files', `${n.attachments} (${byteSize(n.attachment_bytes)})`],
      ['Encrypted message text', byteSize(n.body_bytes)],
      ['Deleted messages not yet purged', `${n.deleted} (text already erased)`],
      ['Numbers', `${n.lines}`],
      ['Linked phones', `${n.devices}`],
      ['Signed-in sessions', `${n.sessions}`],
      ['Security events', `${n.security_events}`],
    ];
    this.list.replaceChildren(...rows.flatMap(([term, value]) => [
      h('dt', { text: term }), h('dd', { 'data-fact': term, text: value })]));
    const server = s.privacy.server;
    const retention = s.privacy.settings.retention_days;
    this.keeps.replaceChildren(
      h('li', { text: retention ? `Messages: ${retention} days, then deleted.` : 'Messages: until you delete them.' }),
      h('li', { text: `Deleted messages: their text at once; the empty record after ${server.tombstone_days} days.` }),
      h('li', { text: `The server’s access log (time, address, browser, page; never message text): ${server.access_log_days} days.` }),
      h('li', { text: 'Your account: until you delete it below; then its key is destroyed at once and the rest purged.' }));
  }
}
