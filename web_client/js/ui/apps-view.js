/** Connected apps (scopes, conversations, expiry, granted, last used, access log,
 * revoke) and developer apps (register; the secret is shown once). */
import { untilWords } from '../domain/apps-model.js';
import { field } from './auth-views.js';
import { h, setText, uid } from './dom.js';

export class AppsView {
  /** @param {import('../domain/apps-model.js').AppsModel} model */
  constructor(model) {
    this.model = model;
    this.error = h('p', { class: 'form-error', role: 'alert' });
    this.notice = h('p', { class: 'form-notice', role: 'status' });
    this.grants = h('div', { 'aria-live': 'polite' });
    this.clients = h('div');
    this.created = h('div', { role: 'status' });
    this.root = h('main', { class: 'apps', 'aria-labelledby': 'apps-title' },
      h('p', {}, h('a', { href: '/' }, '← Back to Ferry')),
      h('h1', { id: 'apps-title', text: 'Connected apps' }),
      this.notice, this.error,
      h('section', { 'aria-label': 'Apps you allowed' }, this.grants),
      h('h2', { text: 'Developer apps' }),
      h('section', { 'aria-label': 'Apps you develop' }, this.#registerForm(), this.created, this.clients));
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  update() {
    const m = this.model;
    setText(this.error, m.error ?? '');
    setText(this.notice, m.notice ?? '');
    this.notice.hidden = !m.notice;
    if (!m.signedIn) {
      this.grants.replaceChildren(h('p', {}, 'Sign in to Ferry first. ', h('a', { href: '/' }, 'Sign in')));
      return;
    }
    this.grants.replaceChildren(...(m.grants.length ? m.grants.map((g) => this.#grant(g))
      : [h('p', { class: 'field-hint', text: 'No app can use your account.' })]));
    this.clients.replaceChildren(...m.clients.map((c) => this.#client(c)));
    this.created.replaceChildren(...(m.created ? [this.#created(m.created)] : []));
  }

  /** @param {any} g */
  #grant(g) {
    const log = this.model.logs[g.id];
    const conversations = g.conversations === null ? 'All conversations'
      : g.conversations.map((/** @type {any} */ c) => c.title).join(', ');
    return h('article', { class: 'apps-item', 'data-grant': String(g.id) },
      h('h3', { text: g.app }),
      h('dl', {},
        h('dt', { text: 'May' }), h('dd', { text: g.scopes.map((/** @type {any} */ s) => s.description).join('; ') }),
        h('dt', { text: 'Conversations' }), h('dd', { text: conversations }),
        h('dt', { text: 'Access' }), h('dd', { text: untilWords(g.expires_at) }),
        h('dt', { text: 'Allowed' }), h('dd', { text: new Date(g.granted_at).toLocaleString() }),
        h('dt', { text: 'Last used' }), h('dd', { text: g.last_used_at ? new Date(g.last_used_at).toLocaleString() : 'Never' })),
      h('div', { class: 'card-actions' },
        h('button', { type: 'button', class: 'button button-danger', onclick: () => this.model.revoke(g.id) }, `Revoke ${g.app}`),
        h('button', { type: 'button', class: 'button button-quiet', onclick: () => this.model.showLog(g.id) }, 'What it did')),
      log ? logTable(log) : null);
  }

  /** @param {any} c */
  #client(c) {
    return h('article', { class: 'apps-item' },
      h('h3', { text: c.name }),
      h('dl', {},
        h('dt', { text: 'Client id' }), h('dd', { class: 'apps-secret', text: c.client_id }),
        h('dt', { text: 'Kind' }), h('dd', { text: c.confidential ? 'Confidential (has a secret)' : 'Public (PKCE only)' }),
        h('dt', { text: 'Redirect URIs' }), h('dd', { text: c.redirect_uris.join(' ') })),
      h('button', { type: 'button', class: 'button button-quiet', onclick: () => this.model.deleteClient(c.id) }, `Delete ${c.name}`));
  }

  /** @param {any} created */
  #created(created) {
    return h('div', { class: 'form-notice' },
      h('p', { text: `Registered. Client id: ${created.client_id}` }),
      created.client_secret ? h('p', {}, 'Secret (shown only now; copy it): ',
        h('span', { class: 'apps-secret', text: created.client_secret })) : null);
  }

  #registerForm() {
    const name = h('input', { id: uid('app-name'), name: 'name', maxlength: 100 });
    const uris = h('input', { id: uid('app-uris'), name: 'redirect_uris', placeholder: 'https://app.example/callback' });
    const secret = h('input', { id: uid('app-secret'), type: 'checkbox' });
    return h('form', {
      class: 'apps-item',
      onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        const list = /** @type {HTMLInputElement} */ (uris).value.split(/\s+/).filter(Boolean);
        this.model.register(/** @type {HTMLInputElement} */ (name).value, list, /** @type {HTMLInputElement} */ (secret).checked);
      },
    }, field('App name', name), field('Redirect URIs (exact; https, or http on 127.0.0.1)', uris),
    h('div', { class: 'consent-option' }, secret, h('label', { for: secret.id, text: 'Confidential: it has a server that keeps a secret' })),
    h('button', { type: 'submit', class: 'button button-primary' }, 'Register app'));
  }
}

/** @param {any[]} entries */
function logTable(entries) {
  if (!entries.length) return h('p', { class: 'field-hint', text: 'It has not used your account yet.' });
  return h('table', { class: 'apps-log' },
    h('thead', {}, h('tr', {}, h('th', { text: 'When' }), h('th', { text: 'From' }), h('th', { text: 'What' }))),
    h('tbody', {}, ...entries.map((e) => h('tr', {},
      h('td', { text: new Date(e.at).toLocaleString() }), h('td', { text: e.ip ?? '' }),
      h('td', { text: e.status < 400 ? e.action : `${e.action} (refused)` })))));
}
