/**
 * The Privacy page's view model: what Ferry stores about the user, the settings that
 * limit it (masking, retention, troubleshooting access), the access history, and
 * deleting the account. Each control has its own form state, so one failing never
 * hides another's result. Other privacy features (export, consent) add their own
 * models beside this one; the page composes their sections (ui/privacy/sections.js).
 */
import { userMessage } from './messages-text.js';
import { Observable } from './observable.js';
import { errorCode } from './session.js';

/** @typedef {{busy: boolean, error: string|null, done: string|null}} FormState */

const idle = () => ({ busy: false, error: null, done: null });

export class PrivacyModel extends Observable {
  /** @type {import('../protocol/privacy.js').Privacy|null} */ privacy = null;
  /** @type {import('../protocol/privacy.js').StaffAccess[]|null} */ accesses = null;
  /** @type {string|null} */ loadError = null;
  /** @type {Record<'masking'|'retention'|'troubleshoot'|'deletion', FormState>} */
  forms = { masking: idle(), retention: idle(), troubleshoot: idle(), deletion: idle() };

  /**
   * @param {{api: import('./api.js').FerryApi, session: import('./session.js').Session}} deps
   */
  constructor({ api, session }) {
    super();
    this.api = api;
    this.session = session;
  }

  async load() {
    this.loadError = null;
    this.forms = { masking: idle(), retention: idle(), troubleshoot: idle(), deletion: idle() };
    this.emitChange();
    try {
      const [privacy, accesses] = await Promise.all([this.api.privacy(), this.api.accessHistory()]);
      this.privacy = privacy;
      this.accesses = accesses;
    } catch (err) {
      if (errorCode(err) === 'unauthenticated') this.session.expire();
      this.loadError = userMessage(err, 'Couldn’t load what Ferry stores about you.');
    }
    this.emitChange();
  }

  /** @param {boolean} on */
  setMaskSent(on) {
    return this.#update('masking', { mask_sent: on },
      on ? 'From now on, each text you send is masked once your phone reports it sent.'
        : 'Sent texts are no longer masked. Texts masked already stay masked.');
  }

  /** @param {number|null} days null keeps messages until you delete them */
  setRetention(days) {
    if (days !== null && (!Number.isInteger(days) || days < 1 || days > 3650)) {
      this.forms.retention = { busy: false, error: 'Choose a number of days from 1 to 3650.', done: null };
      this.emitChange();
      return Promise.resolve(false);
    }
    return this.#update('retention', { retention_days: days },
      days === null ? 'Messages are kept until you delete them.'
        : `Messages older than ${days} days will be deleted (within the hour).`);
  }

  /** @param {number} hours 0 ends a grant */
  setTroubleshooting(hours) {
    return this.#update('troubleshoot', { troubleshoot_hours: hours },
      hours ? `Operators may read your messages for ${hours} hours. Each look shows in Access history.`
        : 'Operators can no longer read your messages.');
  }

  /** @param {string} password */
  async deleteAccount(password) {
    if (!password) {
      this.forms.deletion = { busy: false, error: 'Enter your password to confirm.', done: null };
      this.emitChange();
      return false;
    }
    const ok = await this.#run('deletion', async () => {
      await this.api.deleteAccount(password);
      return 'Your account was deleted.';
    }, { wrong_password: 'That password is not right. Your account was not deleted.' });
    if (ok) this.session.ended('Your account and everything in it were deleted.');
    return ok;
  }

  /**
   * @param {'masking'|'retention'|'troubleshoot'} form
   * @param {Record<string, unknown>} changes @param {string} done
   */
  #update(form, changes, done) {
    return this.#run(form, async () => {
      this.privacy = await this.api.updatePrivacy(/** @type {any} */ (changes));
      return done;
    });
  }

  /**
   * @param {keyof PrivacyModel['forms']} form
   * @param {() => Promise<string>} action resolves to the success sentence
   * @param {Record<string, string>} [words]
   */
  async #run(form, action, words = {}) {
    if (this.forms[form].busy) return false;
    this.forms = { ...this.forms, [form]: { busy: true, error: null, done: null } };
    this.emitChange();
    try {
      const done = await action();
      this.forms = { ...this.forms, [form]: { busy: false, error: null, done } };
      this.emitChange();
      return true;
    } catch (err) {
      if (errorCode(err) === 'unauthenticated') this.session.expire();
      this.forms = { ...this.forms, [form]: { busy: false, error: userMessage(err, undefined, words), done: null } };
      this.emitChange();
      return false;
    }
  }
}

const ACTIONS = {
  inspect: 'looked at what your account holds (no message contents)',
  security_events: 'looked at your security activity',
  read_messages: 'read your messages, with your permission',
  read_messages_refused: 'tried to read your messages and was refused',
};

/** @param {string} action */
export function accessLabel(action) {
  return ACTIONS[/** @type {keyof ACTIONS} */ (action)] ?? action.replace(/_/g, ' ');
}

/** "1.2 MB" @param {number} bytes */
export function byteSize(bytes) {
  if (bytes < 1000) return `${bytes} bytes`;
  const units = ['kB', 'MB', 'GB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
