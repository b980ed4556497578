/**
 * Issue #13, "the UI tells the truth", in the view models: the real sign-in wait, text
 * over the limit kept and measured, a modem that stopped answering, send errors in plain
 * words with their detail, refused messages, who paired a bridge, the reset step across
 * reloads, and the new protocol fields validated on the way in.
 */
import { AuthModel, RESET_CODE_MS } from '/static/js/domain/auth-model.js';
import { MAX_MESSAGE_CHARS, messageLength, smsCounter } from '/static/js/domain/compose-counter.js';
import { bridgeSummary, composeNotice } from '/static/js/domain/connection-status.js';
import { waitWords } from '/static/js/domain/messages-text.js';
import { serverOf } from '/static/js/domain/pairing-model.js';
import { Session } from '/static/js/domain/session.js';
import { eventAgent, eventLabel } from '/static/js/domain/settings-model.js';
import { ConversationStore } from '/static/js/domain/store.js';
import { ThreadModel, bubble, refusalNotice, sendError } from '/static/js/domain/thread-model.js';
import { createMemoryStorage } from '/static/js/platform/storage.js';
import { ProtocolError } from '/static/js/protocol/errors.js';
import { parseCodeSend, parseDevice, parseMessage } from '/static/js/protocol/schema.js';
import { assert, equal, throws } from './assert.js';
import { FakeClock, apiError, message, thread } from './fakes.js';

const NOW = Date.parse('2026-11-01T12:00:00Z');
const device = (fields = {}) => ({
  id: '1', name: 'Pixel 8', online: true, last_seen: null, signal_dbm: -71, operator: 'Ferry Mobile', lines: [],
  modem_state: 'ready', ...fields,
});

// ---- sign-in lockout -----------------------------------------------------------------

export async function test_sign_in_lockout_shows_the_real_wait_and_counts_down() {
  const clock = new FakeClock();
  let calls = 0;
  const api = {
    signIn: async () => {
      calls++;
      throw Object.assign(apiError(429, 'rate_limited'), { retryAfter: 14 * 60 });
    },
  };
  const session = new Session(api, clock);
  await session.signIn('+15550100001', 'pw');
  equal(session.error, 'Too many sign-in attempts. Try again in 14 minutes.');
  equal(session.lockedFor(), 840);
  await session.signIn('+15550100001', 'pw');
  equal(calls, 1, 'no request for that number while the server says wait');
  await session.signIn('+15550100002', 'pw');
  equal(calls, 2, 'another number may be tried');
  equal(session.lockedPhone, '+15550100002');
  equal(session.lockedFor(), 840);
  clock.advance(13 * 60 * 1000 + 30_000);
  equal(session.lockedFor(), 30);
  equal(session.error, 'Too many sign-in attempts. Try again in less than a minute.');
  clock.advance(30_000);
  equal(session.lockedFor(), 0);
  equal(session.error, null, 'the lock lifted: nothing stale left on the form');
  await session.signIn('+15550100002', 'pw');
  equal(calls, 3);
}

export function test_wait_words_never_promise_less_than_the_truth() {
  equal([30, 60, 61, 840, 900, 3 * 3600].map(waitWords),
    ['less than a minute', '1 minute', '2 minutes', '14 minutes', '15 minutes', '3 hours']);
}

// ---- text over the limit -------------------------------------------------------------

export function test_text_over_the_limit_is_measured_not_cut() {
  const paste = 'x'.repeat(10_000);
  const c = smsCounter(paste);
  equal(c.over, 8400);
  equal(c.label, '8,400 characters over the limit of 1,600. Shorten the message to send it.');
  equal(smsCounter('y'.repeat(MAX_MESSAGE_CHARS)).over, 0);
  equal(smsCounter('y'.repeat(MAX_MESSAGE_CHARS + 1)).label.startsWith('1 character over'), true);
  // Counted as the server counts (code points): an emoji is one character, not two.
  equal(messageLength('👋'.repeat(1600)), 1600);
  equal(smsCounter('👋'.repeat(1600)).over, 0);
}

// ---- modem not responding ----------------------------------------------------------------

export function test_a_modem_that_stopped_answering_shows_no_bars_and_no_network() {
  const s = bridgeSummary([device({ modem_state: 'not_responding' })], 'connected', NOW);
  equal(s.state, 'trouble');
  equal(s.label, 'Pixel 8: modem not responding');
  equal([s.devices[0].signal, s.devices[0].operator], [null, null]);
  assert(composeNotice(s).startsWith('Your phone’s modem is not responding.'));
  const ok = bridgeSummary([device()], 'connected', NOW);
  equal([ok.state, ok.label, ok.devices[0].signal.bars], ['online', 'Pixel 8 connected', 4]);
  const two = bridgeSummary([device(), device({ id: '2', name: 'Desk', modem_state: 'not_responding' })], 'connected', NOW);
  equal([two.state, two.label], ['partial', '1 of 2 phones connected · 1 modem not responding']);
  equal(two.devices.map((d) => d.label), ['Pixel 8 connected', 'Desk: modem not responding']);
  const starting = bridgeSummary([device({ modem_state: 'starting' })], 'connected', NOW);
  equal([starting.label, starting.devices[0].signal], ['Pixel 8 connected · modem starting', null]);
}

// ---- failed sends and refused messages ------------------------------------------------------

export function test_send_errors_are_sentences_with_the_detail_one_click_away() {
  equal(sendError('The modem did not answer.', 'AT+CMGS=42 timed out waiting for the prompt'),
    { error: 'The modem did not answer.', errorDetail: 'AT+CMGS=42 timed out waiting for the prompt' });
  // Old rows: raw AT text in `error`, no detail.
  equal(sendError('AT+CMGS=42 timed out waiting for the prompt', null),
    { error: 'The phone couldn’t send this message.', errorDetail: 'AT+CMGS=42 timed out waiting for the prompt' });
  equal(sendError('+CMS ERROR: 38', null).errorDetail, '+CMS ERROR: 38');
  equal(sendError('ADB cannot send SMS; nothing left the phone.', null),
    { error: 'ADB cannot send SMS; nothing left the phone.', errorDetail: null });
  equal(sendError(null, null), { error: null, errorDetail: null });
  const b = bubble(parseMessage(message({ direction: 'out', status: 'failed', error: 'AT+CMGS=3 timed out waiting for the prompt' })), {});
  equal([b.error, b.errorDetail], ['The phone couldn’t send this message.', 'AT+CMGS=3 timed out waiting for the prompt']);
}

export function test_a_refused_message_is_a_notice_not_an_empty_bubble() {
  const store = new ConversationStore();
  store.applyChanges([], [thread({ title: 'Alice' })]);
  store.applyChanges([parseMessage(message({ id: 5, body: '', refused: 'attachment_too_large' }))]);
  const model = new ThreadModel({ api: {}, store, threadId: 1 });
  const [only] = model.view(NOW).groups[0].messages;
  equal(only.refused, 'A message from Alice could not be stored: its attachments are larger than Ferry can keep.');
  equal([only.key, only.statusLabel], ['r:5', '']);
  equal(refusalNotice('+15550100002', 'unknown'), 'A message from +15550100002 could not be stored: Ferry could not read it.');
}

// ---- security log, pairing dialog -----------------------------------------------------------

export function test_security_log_names_bridges_and_invents_no_browser() {
  equal(eventAgent('Ferry bridge'), 'Ferry bridge');
  equal(eventAgent(null), '', 'nobody known: nothing said, not "Unknown browser"');
  equal(eventAgent('Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0 Safari/537.36'), 'Chrome on Linux');
  equal(eventLabel('device_added'), 'Phone linked');
}

export function test_pairing_link_names_the_server_for_the_typed_code() {
  equal(serverOf('ferry-pair:v1?url=https%3A%2F%2Fferry.example%3A8443&key=abc&code=XYZ'), 'https://ferry.example:8443');
  equal(serverOf('nonsense'), '');
}

// ---- password reset across reloads -------------------------------------------------------------

export async function test_the_reset_code_step_survives_a_reload() {
  const clock = new FakeClock();
  const tab = createMemoryStorage();
  const session = { state: 'signed-out', error: null, adopt: () => {} };
  const api = { requestReset: async () => null, confirmReset: async () => ({ id: 1 }) };
  const first = new AuthModel({ api, session, clock, storage: tab });
  first.show('reset');
  await first.requestReset('+1 555 010 0001');
  equal([first.view, first.resetStep], ['reset', 'confirm']);
  // Reload: a new model over the same tab storage.
  clock.advance(60_000);
  const reloaded = new AuthModel({ api, session, clock, storage: tab });
  equal([reloaded.view, reloaded.resetStep, reloaded.resetPhone], ['reset', 'confirm', '+15550100001']);
  equal(Object.keys(tab.get('reset')).sort(), ['at', 'phone'], 'the number and a time, never the code');
  reloaded.restartReset();
  equal(reloaded.resetStep, 'request');
  equal(new AuthModel({ api, session, clock, storage: tab }).view, 'signin');
  // A code older than its life is not offered again.
  await reloaded.requestReset('+15550100001');
  clock.advance(RESET_CODE_MS);
  equal(new AuthModel({ api, session, clock, storage: tab }).view, 'signin');
}

// ---- the new wire fields are validated ------------------------------------------------------------

export function test_new_fields_are_validated_on_the_way_in() {
  const m = parseMessage(message({ refused: 'bad_time', error_detail: 'AT+CMGS' }));
  equal([m.refused, m.error_detail], ['bad_time', 'AT+CMGS']);
  equal(parseMessage(message({ refused: 'from_the_future' })).refused, 'unknown');
  equal(parseMessage(message()).refused, null);
  throws(() => parseMessage(message({ refused: 7 })), (e) => e instanceof ProtocolError);
  throws(() => parseMessage(message({ error_detail: 'x'.repeat(2001) })), (e) => e instanceof ProtocolError);
  equal(parseDevice(device({ modem_state: 'not_responding' })).modem_state, 'not_responding');
  equal(parseDevice(device({ modem_state: 'exploded' })).modem_state, null);
  equal(parseDevice({ id: 1, name: 'x' }).modem_state, null);
  equal(parseCodeSend({ account: {}, code_send: { state: 'failed', error: 'sms_refused', at: '2026-11-01T12:00:00Z' } }).error,
    'sms_refused');
  equal(parseCodeSend({ account: {} }), null);
  throws(() => parseCodeSend({ code_send: { state: 'teleported', at: '2026-11-01T12:00:00Z' } }), (e) => e instanceof ProtocolError);
}
