/** The Privacy page's model and parsers (no server: a fake API). */
import { assert, equal as assertEqual } from './assert.js';
import { PrivacyModel, accessLabel, byteSize } from '/static/js/domain/privacy-model.js';
import { parseAccessHistory, parsePrivacy } from '/static/js/protocol/privacy.js';

const STORED = {
  messages: 3, masked: 1, deleted: 0, threads: 1, contacts: 2, attachments: 0, attachment_bytes: 0,
  body_bytes: 120, lines: 1, devices: 1, sessions: 1, security_events: 4,
};
const SERVER = { access_log_days: 30, tombstone_days: 90, max_retention_days: 3650, max_troubleshoot_hours: 72 };
const ANSWER = { settings: { mask_sent: false, retention_days: null, troubleshoot_until: null }, stored: STORED, server: SERVER };

export function test_parsers_check_the_shape() {
  const p = parsePrivacy(ANSWER);
  assertEqual(p.stored.masked, 1);
  assertEqual(p.settings.retention_days, null);
  let threw = false;
  try {
    parsePrivacy({ ...ANSWER, stored: { ...STORED, messages: -1 } });
  } catch {
    threw = true;
  }
  assert(threw, 'a negative count is refused');
  const [a] = parseAccessHistory({ accesses: [{ id: 1, at: '2026-12-01T10:00:00Z', operator: 'alice', action: 'inspect', reason: 'ticket 1' }] });
  assertEqual(a.operator, 'alice');
  assertEqual(accessLabel('read_messages_refused'), 'tried to read your messages and was refused');
  assertEqual(byteSize(1234567), '1.2 MB');
}

export async function test_controls_call_the_api_and_deletion_signs_out() {
  const calls = [];
  let ended = null;
  const api = {
    privacy: async () => parsePrivacy(ANSWER),
    accessHistory: async () => [],
    updatePrivacy: async (changes) => {
      calls.push(changes);
      return parsePrivacy({ ...ANSWER, settings: { ...ANSWER.settings, ...changes } });
    },
    deleteAccount: async (password) => {
      if (password !== 'right one') throw Object.assign(new Error('no'), { code: 'wrong_password' });
    },
  };
  const session = { expire() {}, ended(notice) { ended = notice; } };
  const model = new PrivacyModel({ api, session });
  await model.load();
  assertEqual(model.privacy.stored.messages, 3);
  await model.setRetention(0);
  assert(model.forms.retention.error, 'zero days is refused before asking the server');
  await model.setRetention(30);
  assertEqual(model.privacy.settings.retention_days, 30);
  await model.setMaskSent(true);
  assertEqual(JSON.stringify(calls), JSON.stringify([{ retention_days: 30 }, { mask_sent: true }]));
  assertEqual(await model.deleteAccount('wrong'), false);
  assert(/not deleted/.test(model.forms.deletion.error), model.forms.deletion.error);
  assertEqual(ended, null);
  assertEqual(await model.deleteAccount('right one'), true);
  assert(ended && /deleted/.test(ended), 'the session ends, saying why');
}
