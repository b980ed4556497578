/**
 * Settings pane: linked phones (pair, rename, remove), notifications,
 * profile, password, sessions and security activity. Lists are rebuilt only
 * when their data changes, so typing in a field is never disturbed.
 */
import { describeAgent, eventAgent, eventLabel } from '../domain/settings-model.js';
import { relativeTime } from '../domain/time.js';
import { field } from './auth-views.js';
import { confirmDialog } from './dialog.js';
import { h, icon, setText, uid } from './dom.js';
import { ICONS } from './icons.js';
import { backButton } from './thread-view.js';
import { YourDataView } from './your-data-view.js';

/** @typedef {NonNullable<ReturnType<import('../domain/app-model.js').AppModel['snapshot']>['settings']>} SettingsState */
/** @typedef {{busy: boolean, error: string|null, done: string|null}} FormState */

export class SettingsView {
  /** @type {Record<string, string>} */ #keys = {};

  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.heading = h('h2', { id: uid('settings-title'), class: 'pane-title', tabindex: -1, text: 'Settings' });
    this.devices = h('ul', { class: 'settings-list', 'aria-label': 'Linked phones' });
    this.devicesStatus = formStatus();
    this.lines = h('ul', { class: 'settings-list', 'aria-label': 'Your numbers' });
    this.linesStatus = formStatus();
    this.notify = h('div', { class: 'settings-row' });
    this.sessions = h('ul', { class: 'settings-list', 'aria-label': 'Signed-in sessions' });
    this.sessionsStatus = formStatus();
    this.events = h('ul', { class: 'settings-list settings-events', 'aria-label': 'Recent security activity' });
    this.loadError = h('p', { class: 'form-error', role: 'alert' });
    this.profile = this.#profileForm();
    this.password = this.#passwordForm();
    const scroller = h('div', { class: 'settings-scroll' },
      this.loadError,
      section('Phones', ICONS.phone, 'Phones whose texts Ferry syncs. Link one to start.',
        this.devices, this.devicesStatus,
        h('button', { type: 'button', class: 'button button-primary', onclick: () => intents.openPairing() },
          icon(ICONS.add), 'Link a phone')),
      section('Numbers', ICONS.phone,
        'The numbers of your phones and modems. A number added by linking a phone shows its texts once verified.',
        this.lines, this.linesStatus),
      section('Broadcasts', ICONS.people,
        'Send one text to a list of people who agreed to receive it. Who replied STOP is listed there too.',
        h('button', { type: 'button', class: 'button button-quiet', onclick: () => intents.openBroadcasts() },
          'Broadcasts and consent…')),
      section('Notifications', ICONS.bell, 'Get a desktop notification when a text arrives.', this.notify),
      section('Profile', ICONS.account, '', this.profile.form),
      section('Password', ICONS.lock, 'Changing it signs out your other sessions.', this.password.form),
      section('Where you’re signed in', ICONS.computer, '', this.sessions, this.sessionsStatus,
        h('button', { type: 'button', class: 'button button-quiet', onclick: () => this.#revokeOthers() },
          'Sign out everywhere else')),
      section('Connected apps', ICONS.shield,
        'Apps you allowed to read or send your texts: what each may do, what it did, and revoke. Also your own apps.',
        h('a', { href: '/settings/apps', class: 'button button-quiet' }, 'Connected apps and developer apps')),
      section('Security activity', ICONS.shield, 'Recent sign-ins and account changes.', this.events),
      section('Privacy and your data', ICONS.lock,
        'What Ferry stores about you, masking, how long messages are kept, who looked into your account, and deleting it.',
        h('button', { type: 'button', class: 'button button-primary', onclick: () => intents.openPrivacy() },
          'Privacy and your data')));
    // Export and import: a section with its own model (domain/your-data-model.js).
    this.yourData = intents.yourData ? new YourDataView(intents.yourData) : null;
    this.yourData?.mount(scroller);
    this.root = h('section', { class: 'thread settings', 'aria-labelledby': this.heading.id },
      h('header', { class: 'pane-header' }, backButton(intents), h('div', { class: 'pane-heading' }, this.heading)),
      scroller);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
  }

  /** @param {SettingsState} s */
  update(s) {
    setText(this.loadError, s.loadError ?? '');
    this.#whenChanged('devices', [s.devices, s.renaming, Math.floor(s.now / 30_000)], () => this.#drawDevices(s));
    this.#whenChanged('lines', [s.lines, s.labelling, s.codeSentFor, s.devices?.map((d) => [d.name, d.lines])],
      () => this.#drawLines(s));
    this.#whenChanged('sessions', [s.sessions, Math.floor(s.now / 30_000)], () => this.#drawSessions(s));
    this.#whenChanged('events', [s.events], () => this.#drawEvents(s));
    this.#whenChanged('notify', [s.notifications], () => this.#drawNotify(s.notifications));
    this.#whenChanged('account', [s.account?.id], () => {
      this.profile.name.value = s.account?.display_name ?? '';
      this.profile.email.value = s.account?.email ?? '';
    });
    showForm(this.devicesStatus, s.forms.devices);
    showForm(this.linesStatus, s.forms.lines);
    showForm(this.sessionsStatus, s.forms.sessions);
    showForm(this.profile.status, s.forms.profile, this.profile.submit);
    showForm(this.password.status, s.forms.password, this.password.submit);
    if (s.forms.password.done && this.password.current.value) {
      this.password.current.value = '';
      this.password.next.value = '';
    }
  }

  focus() {
    this.heading.focus();
  }

  unmount() {
    this.yourData?.unmount();
    this.root.remove();
  }

  /** @param {string} name @param {unknown} data @param {() => void} draw */
  #whenChanged(name, data, draw) {
    const key = JSON.stringify(data);
    if (this.#keys[name] === key) return;
    this.#keys[name] = key;
    draw();
  }

  /** @param {SettingsState} s */
  #drawDevices(s) {
    if (s.devices === null) {
      this.devices.replaceChildren(h('li', { class: 'settings-empty', text: 'Loading…' }));
      return;
    }
    if (s.devices.length === 0) {
      this.devices.replaceChildren(h('li', { class: 'settings-empty', text: 'No phone linked yet.' }));
      return;
    }
    this.devices.replaceChildren(...s.devices.map((d) => (s.renaming === d.id ? this.#renameRow(d) : this.#deviceRow(d, s.now))));
    this.devices.querySelector('input')?.focus();
  }

  /** @param {import('../protocol/schema.js').Device} d @param {number} now */
  #deviceRow(d, now) {
    const name = d.name || 'Phone';
    const modem = d.modem_state === 'not_responding' ? ' · modem not responding' : d.modem_state === 'starting' ? ' · modem starting' : '';
    const status = d.online ? `Online${modem}` : d.last_seen ? `Last seen ${relativeTime(d.last_seen, now).toLowerCase()}` : 'Never connected';
    return h('li', { class: 'settings-item', 'data-id': d.id },
      h('span', { class: `device-icon ${d.online ? 'is-online' : ''}`.trim(), 'aria-hidden': 'true' }, icon(ICONS.phone)),
      h('div', { class: 'settings-item-text' },
        h('span', { class: 'settings-item-title', text: name }),
        h('span', { class: 'settings-item-sub', text: status })),
      h('div', { class: 'settings-item-actions' },
        h('button', { type: 'button', class: 'button button-quiet button-small', 'aria-label': `Rename ${name}`,
          onclick: () => this.intents.startRename(d.id) }, 'Rename'),
        h('button', { type: 'button', class: 'button button-quiet button-small button-danger-text', 'aria-label': `Remove ${name}`,
          onclick: () => this.#revokeDevice(d.id, name) }, 'Remove')));
  }

  /** @param {import('../protocol/schema.js').Device} d */
  #renameRow(d) {
    const input = /** @type {HTMLInputElement} */ (h('input', { id: uid('device-name'), value: d.name, maxlength: 64, class: 'inline-input' }));
    return h('li', { class: 'settings-item' },
      h('form', { class: 'rename-form', onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        this.intents.renameDevice(d.id, input.value);
      } },
      h('label', { for: input.id, class: 'visually-hidden', text: `New name for ${d.name || 'Phone'}` }), input,
      h('button', { type: 'submit', class: 'button button-primary button-small' }, 'Save'),
      h('button', { type: 'button', class: 'button button-quiet button-small', onclick: () => this.intents.startRename(null) }, 'Cancel')));
  }

  /** @param {SettingsState} s */
  #drawLines(s) {
    const typing = document.activeElement instanceof HTMLInputElement && !this.lines.contains(document.activeElement);
    this.lines.replaceChildren(...s.lines.map((l) => (s.labelling === l.id ? this.#labelRow(l) : this.#lineRow(l, s))));
    if (!typing) this.lines.querySelector('input')?.focus();
  }

  /** @param {import('../protocol/schema.js').Line} l @param {SettingsState} s */
  #lineRow(l, s) {
    const phones = (s.devices ?? []).filter((d) => d.lines.includes(l.number)).map((d) => d.name || 'Phone');
    const served = phones.length ? `Linked: ${phones.join(', ')}` : 'No phone linked for it';
    const title = l.label ? `${l.label} · ${l.number}` : l.number;
    const actions = [h('button', { type: 'button', class: 'button button-quiet button-small', 'aria-label': `Label ${l.number}`,
      onclick: () => this.intents.startLabel(l.id) }, 'Label')];
    let verify = null;
    if (!l.verified) {
      actions.push(h('button', { type: 'button', class: 'button button-quiet button-small', 'aria-label': `Text a code to ${l.number}`,
        onclick: () => this.intents.sendLineCode(l.id) }, s.codeSentFor === l.id ? 'Text a new code' : 'Text a code'));
      if (s.codeSentFor === l.id) verify = this.#codeForm(l);
    }
    return h('li', { class: 'settings-item', 'data-line': l.id },
      h('span', { class: 'device-icon', 'aria-hidden': 'true' }, icon(ICONS.phone)),
      h('div', { class: 'settings-item-text' },
        h('span', { class: 'settings-item-title' }, title,
          l.verified ? null : h('span', { class: 'pill pill-warn', text: 'Not verified' })),
        h('span', { class: 'settings-item-sub', text: served }), verify),
      h('div', { class: 'settings-item-actions' }, ...actions));
  }

  /** @param {import('../protocol/schema.js').Line} l */
  #codeForm(l) {
    const input = /** @type {HTMLInputElement} */ (h('input', { id: uid('line-code'), inputmode: 'numeric',
      autocomplete: 'one-time-code', maxlength: 6, class: 'inline-input' }));
    return h('form', { class: 'rename-form', onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      this.intents.verifyLine(l.id, input.value);
    } },
    h('label', { for: input.id, text: `Code texted to ${l.number}` }), input,
    h('button', { type: 'submit', class: 'button button-primary button-small' }, 'Verify'));
  }

  /** @param {import('../protocol/schema.js').Line} l */
  #labelRow(l) {
    const input = /** @type {HTMLInputElement} */ (h('input', { id: uid('line-label'), value: l.label, maxlength: 50, class: 'inline-input' }));
    return h('li', { class: 'settings-item' },
      h('form', { class: 'rename-form', onsubmit: (/** @type {Event} */ e) => {
        e.preventDefault();
        this.intents.labelLine(l.id, input.value);
      } },
      h('label', { for: input.id, class: 'visually-hidden', text: `Label for ${l.number}` }), input,
      h('button', { type: 'submit', class: 'button button-primary button-small' }, 'Save'),
      h('button', { type: 'button', class: 'button button-quiet button-small', onclick: () => this.intents.startLabel(null) }, 'Cancel')));
  }

  /** @param {string} id @param {string} name */
  async #revokeDevice(id, name) {
    const ok = await confirmDialog({
      title: `Remove ${name}?`,
      text: 'It is disconnected at once and can’t sync again unless you link it anew. Conversations already synced stay here.',
      confirm: 'Remove',
    });
    if (ok) this.intents.revokeDevice(id);
  }

  /** @param {string} permission */
  #drawNotify(permission) {
    const text = {
      granted: 'Notifications are on for this browser.',
      denied: 'Notifications are blocked. Allow them in your browser’s site settings.',
      unsupported: 'This browser can’t show notifications.',
      default: 'Notifications are off.',
    }[permission] ?? '';
    const button = permission === 'default'
      ? h('button', { type: 'button', class: 'button button-primary button-small',
        onclick: () => this.intents.enableNotifications() }, 'Turn on')
      : null;
    // replaceChildren() would write a missing button as the text "null".
    this.notify.replaceChildren(...[h('p', { class: 'settings-item-sub', text }), button].filter((n) => n !== null));
  }

  /** @param {SettingsState} s */
  #drawSessions(s) {
    if (!s.sessions) {
      this.sessions.replaceChildren(h('li', { class: 'settings-empty', text: 'Loading…' }));
      return;
    }
    this.sessions.replaceChildren(...s.sessions.map((x) => {
      const agent = describeAgent(x.user_agent);
      const seen = x.current ? 'This browser' : x.last_seen_at ? `Active ${relativeTime(x.last_seen_at, s.now).toLowerCase()}` : '';
      return h('li', { class: 'settings-item' },
        h('span', { class: 'device-icon', 'aria-hidden': 'true' }, icon(ICONS.computer)),
        h('div', { class: 'settings-item-text' },
          h('span', { class: 'settings-item-title' }, agent, x.current ? h('span', { class: 'pill', text: 'Current' }) : null),
          h('span', { class: 'settings-item-sub', text: [seen, x.ip].filter(Boolean).join(' · ') })),
        x.current ? null : h('div', { class: 'settings-item-actions' },
          h('button', { type: 'button', class: 'button button-quiet button-small', 'aria-label': `Sign out ${agent}`,
            onclick: () => this.intents.revokeSession(x.id) }, 'Sign out')));
    }));
  }

  async #revokeOthers() {
    const ok = await confirmDialog({
      title: 'Sign out everywhere else?',
      text: 'Every other browser signed in to this account is signed out at once. This one stays signed in.',
      confirm: 'Sign out others',
    });
    if (ok) this.intents.revokeOtherSessions();
  }

  /** @param {SettingsState} s */
  #drawEvents(s) {
    if (!s.events) {
      this.events.replaceChildren(h('li', { class: 'settings-empty', text: 'Loading…' }));
      return;
    }
    if (s.events.length === 0) {
      this.events.replaceChildren(h('li', { class: 'settings-empty', text: 'Nothing yet.' }));
      return;
    }
    const when = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    this.events.replaceChildren(...s.events.map((e) => h('li', { class: 'settings-item event' },
      h('div', { class: 'settings-item-text' },
        h('span', { class: 'settings-item-title', text: eventLabel(e.kind) }),
        h('span', { class: 'settings-item-sub', text: [eventAgent(e.user_agent), e.ip].filter(Boolean).join(' · ') })),
      h('time', { class: 'event-time', datetime: e.at, text: when.format(new Date(e.at)) }))));
  }

  #profileForm() {
    const name = /** @type {HTMLInputElement} */ (h('input', { id: uid('display-name'), autocomplete: 'name', maxlength: 100 }));
    const email = /** @type {HTMLInputElement} */ (h('input', { id: uid('email'), type: 'email', autocomplete: 'email', maxlength: 254 }));
    const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-primary' }, 'Save profile'));
    const status = formStatus();
    const form = h('form', { class: 'settings-form', novalidate: true, onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      this.intents.saveProfile({ display_name: name.value, email: email.value });
    } }, field('Name', name), field('Email (optional)', email, 'Only used to reach you about your account.'), status, submit);
    return { form, name, email, submit, status };
  }

  #passwordForm() {
    const current = /** @type {HTMLInputElement} */ (h('input', { id: uid('current-password'), type: 'password', autocomplete: 'current-password' }));
    const next = /** @type {HTMLInputElement} */ (h('input', { id: uid('new-password'), type: 'password', autocomplete: 'new-password', minlength: 8 }));
    const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'button button-primary' }, 'Change password'));
    const status = formStatus();
    const form = h('form', { class: 'settings-form', novalidate: true, onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      this.intents.changePassword(current.value, next.value);
    } }, field('Current password', current), field('New password', next, 'At least 8 characters.'), status, submit);
    return { form, current, next, submit, status };
  }
}

/** @param {string} title @param {string} iconPath @param {string} lede @param {...(Node|null)} content */
function section(title, iconPath, lede, ...content) {
  const id = uid('section');
  return h('section', { class: 'settings-section', 'aria-labelledby': id },
    h('h3', { id, class: 'settings-heading' }, icon(iconPath, 'icon settings-heading-icon'), h('span', { text: title })),
    lede ? h('p', { class: 'settings-lede', text: lede }) : null,
    ...content);
}

function formStatus() {
  return h('p', { class: 'form-status', role: 'status' });
}

/** @param {HTMLElement} status @param {FormState} form @param {HTMLButtonElement} [submit] */
function showForm(status, form, submit) {
  setText(status, form.error ?? form.done ?? '');
  status.dataset.kind = form.error ? 'error' : 'ok';
  if (submit) submit.disabled = form.busy;
}
