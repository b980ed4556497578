/**
 * The settings pane: profile, password, live sessions, security events and
 * the account's bridges. Bridges themselves are the sync client's list (kept
 * live by `device` frames); this model runs the actions on them.
 */
import { userMessage } from './messages-text.js';
import { Observable } from './observable.js';
import { errorCode } from './session.js';

/** @typedef {{busy: boolean, error: string|null, done: string|null}} FormState */

const idle = () => ({ busy: false, error: null, done: null });

export class SettingsModel extends Observable {
  /** @type {import('../protocol/schema.js').SessionInfo[]|null} */ sessions = null;
  /** @type {import('../protocol/schema.js').SecurityEvent[]|null} */ events = null;
  /** @type {string|null} */ loadError = null;
  /** @type {FormState} */ profile = idle();
  /** @type {FormState} */ password = idle();
  /** @type {FormState} */ sessionsForm = idle();
  /** @type {FormState} */ devicesForm = idle();
  /** @type {string|null} device id being renamed */ renaming = null;
  /** @type {FormState} */ linesForm = idle();
  /** @type {number|null} line id being labelled */ labelling = null;
  /** @type {number|null} line whose code was texted (its code box shows) */ codeSentFor = null;

  /**
   * @param {object} deps
   * @param {import('./api.js').FerryApi} deps.api
   * @param {import('./session.js').Session} deps.session
   * @param {import('./sync-client.js').SyncClient} deps.sync
   * @param {() => Promise<void>} [deps.reloadLines] the account's lines changed
   */
  constructor({ api, session, sync, reloadLines = async () => {} }) {
    super();
    Object.assign(this, { api, session, sync, reloadLines });
  }

  /** @param {number|null} id */
  startLabel(id) {
    this.labelling = id;
    this.linesForm = idle();
    this.emitChange();
  }

  /** @param {number} id @param {string} label */
  async labelLine(id, label) {
    const ok = await this.#run('linesForm', async () => {
      await this.api.labelLine(id, label.trim());
      return label.trim() ? 'Label saved.' : 'Label removed.';
    });
    if (ok) this.labelling = null;
    await this.reloadLines();
    this.emitChange();
  }

  /** Text a code to a number added with a phone; the phone's bridge may enter it by itself. @param {number} id */
  async sendLineCode(id) {
    const ok = await this.#run('linesForm', async () => {
      await this.api.sendLineCode(id);
      return 'Code sent. If that phone is linked, Ferry enters it by itself; or type it here.';
    }, {
      sms_unavailable: 'The code could not be sent: the text message service is not reachable. Try again in a minute.',
      sms_refused: 'The text message service refused to send a code to this number.',
      already_verified: 'This number is already verified.',
    });
    if (ok) this.codeSentFor = id;
    await this.reloadLines();
    this.emitChange();
  }

  /** @param {number} id @param {string} code */
  async verifyLine(id, code) {
    const ok = await this.#run('linesForm', async () => {
      await this.api.verifyLine(id, code.trim());
      return 'Number verified. Its conversations are showing.';
    });
    if (ok) this.codeSentFor = null;
    await this.reloadLines();
    this.emitChange();
  }

  async load() {
    this.loadError = null;
    this.profile = idle();
    this.password = idle();
    this.linesForm = idle();
    this.sync.refreshDevices();
    await Promise.all([this.#loadSessions(), this.#loadEvents(), this.reloadLines()]);
  }

  /** @param {{display_name: string, email: string}} fields */
  async saveProfile(fields) {
    await this.#run('profile', async () => {
      const account = await this.api.updateProfile({
        display_name: fields.display_name.trim() || null, email: fields.email.trim() || null,
      });
      this.session.adopt(account);
      return 'Profile saved.';
    });
  }

  /** @param {string} current @param {string} next */
  async changePassword(current, next) {
    if (!current || next.length < 8) {
      this.password = { busy: false, error: 'Enter your current password and a new one of at least 8 characters.', done: null };
      this.emitChange();
      return false;
    }
    const ok = await this.#run('password', async () => {
      await this.api.changePassword(current, next);
      return 'Password changed. Other sessions were signed out.';
    });
    if (ok) await this.#loadSessions();
    return ok;
  }

  /** @param {string} id */
  async revokeSession(id) {
    await this.#run('sessionsForm', async () => {
      await this.api.revokeSession(id);
      return 'Session signed out.';
    });
    await Promise.all([this.#loadSessions(), this.#loadEvents()]);
  }

  async revokeOtherSessions() {
    await this.#run('sessionsForm', async () => {
      await this.api.revokeOtherSessions();
      return 'Signed out everywhere else.';
    });
    await Promise.all([this.#loadSessions(), this.#loadEvents()]);
  }

  /** @param {string|null} id */
  startRename(id) {
    this.renaming = id;
    this.devicesForm = idle();
    this.emitChange();
  }

  /** @param {string} id @param {string} name */
  async renameDevice(id, name) {
    if (!name.trim()) {
      this.devicesForm = { busy: false, error: 'Enter a name.', done: null };
      this.emitChange();
      return;
    }
    const ok = await this.#run('devicesForm', async () => {
      await this.api.renameDevice(id, name.trim());
      return 'Phone renamed.';
    });
    if (ok) this.renaming = null;
    await this.sync.refreshDevices();
    this.emitChange();
  }

  /** @param {string} id */
  async revokeDevice(id) {
    await this.#run('devicesForm', async () => {
      await this.api.revokeDevice(id);
      return 'Phone removed.';
    });
    await this.sync.refreshDevices();
  }

  /**
   * @param {'profile'|'password'|'sessionsForm'|'devicesForm'|'linesForm'} form
   * @param {() => Promise<string>} action resolves to the success sentence
   * @param {Record<string, string>} [words] wording for some error codes
   * @returns {Promise<boolean>}
   */
  async #run(form, action, words = {}) {
    if (this[form].busy) return false;
    this[form] = { busy: true, error: null, done: null };
    this.emitChange();
    try {
      this[form] = { busy: false, error: null, done: await action() };
      this.emitChange();
      return true;
    } catch (err) {
      if (errorCode(err) === 'unauthenticated') this.session.expire();
      this[form] = { busy: false, error: userMessage(err, undefined, words), done: null };
      this.emitChange();
      return false;
    }
  }

  async #loadSessions() {
    try {
      this.sessions = await this.api.sessions();
    } catch (err) {
      this.loadError = userMessage(err, 'Couldn’t load your sessions.');
    }
    this.emitChange();
  }

  async #loadEvents() {
    try {
      this.events = await this.api.securityEvents(30);
    } catch (err) {
      this.loadError = userMessage(err, 'Couldn’t load security activity.');
    }
    this.emitChange();
  }
}

const EVENT_WORDS = {
  signup: 'Account created', login: 'Signed in', login_failed: 'Failed sign-in attempt', logout: 'Signed out',
  signup_attempt: 'Someone tried to sign up with your number', phone_verified: 'Phone number verified',
  phone_changed: 'Phone number changed', phone_change_requested: 'Change of number requested',
  password_changed: 'Password changed', password_reset: 'Password reset',
  password_reset_requested: 'Password reset requested', sessions_revoked: 'Signed out everywhere else',
  session_revoked: 'A session was signed out', device_paired: 'Phone linked', device_added: 'Phone linked',
  device_revoked: 'Phone removed', line_verified: 'Another number verified',
  mask_sent_on: 'Masking of sent texts turned on', mask_sent_off: 'Masking of sent texts turned off',
  retention_changed: 'How long messages are kept changed',
  troubleshooting_granted: 'Operators allowed to read your messages for a while',
  troubleshooting_ended: 'Operators’ access to your messages ended',
  app_granted: 'An app was allowed to use your account', app_revoked: 'An app’s access was revoked',
  terms_accepted: 'New terms of use and privacy notice accepted',
};

/** @param {string} kind e.g. "login_failed" */
export function eventLabel(kind) {
  const known = EVENT_WORDS[/** @type {keyof EVENT_WORDS} */ (kind)];
  if (known) return known;
  const words = kind.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * Who acted in a security event: "Chrome on Linux", "Ferry bridge" (the server
 * names bridges, which send no user agent), or nothing when nobody is known
 * (the server itself, e.g. a number verified by the bridge's SMS).
 * @param {string|null} ua
 */
export function eventAgent(ua) {
  return ua ? describeAgent(ua) : '';
}

/**
 * "Chrome on Linux" from a user-agent string; good enough to recognise one's own devices.
 * @param {string|null} ua
 */
export function describeAgent(ua) {
  if (!ua) return 'Unknown browser';
  const browser = [['Edg/', 'Edge'], ['OPR/', 'Opera'], ['Firefox/', 'Firefox'], ['Chrome/', 'Chrome'],
    ['Safari/', 'Safari'], ['curl/', 'curl'], ['python', 'Script']].find(([needle]) => ua.includes(needle));
  const os = [['Android', 'Android'], ['iPhone', 'iPhone'], ['iPad', 'iPad'], ['Windows', 'Windows'],
    ['Mac OS X', 'macOS'], ['CrOS', 'ChromeOS'], ['Linux', 'Linux']].find(([needle]) => ua.includes(needle));
  if (!browser && !os) return ua.slice(0, 60);
  return [browser?.[1] ?? 'Browser', os ? `on ${os[1]}` : ''].join(' ').trim();
}
