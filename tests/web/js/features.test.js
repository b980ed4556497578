/** View models of the account, settings and conversation features, with fake clock and API. */
import { AuthModel } from '/static/js/domain/auth-model.js';
import { smsCounter } from '/static/js/domain/compose-counter.js';
import { CONSENT_COOKIE, CONSENT_MAX_AGE, Consent } from '/static/js/domain/consent.js';
import { PairingModel, mmss, svgDataUrl } from '/static/js/domain/pairing-model.js';
import { SearchModel, highlight, snippet } from '/static/js/domain/search-model.js';
import { describeAgent, eventLabel } from '/static/js/domain/settings-model.js';
import { shortcutFor } from '/static/js/domain/shortcuts.js';
import { ConversationStore } from '/static/js/domain/store.js';
import { UndoableDeletes } from '/static/js/domain/undo-delete.js';
import { VerifyModel } from '/static/js/domain/verify-model.js';
import { assert, equal, flush } from './assert.js';
import { FakeClock, apiError, message, thread } from './fakes.js';

const account = (verified) => ({ id: 1, phone: '+15550100001', phone_verified: verified, email: null, display_name: null });

function verifyModel(api) {
  const clock = new FakeClock();
  const events = { verified: [], gone: 0 };
  const model = new VerifyModel({
    api, clock, onVerified: (a) => events.verified.push(a), onSessionGone: () => events.gone++,
  });
  return { model, clock, events };
}

const status = (verified, codeSend = null) => ({ account: account(verified), codeSend });

export async function test_verify_polls_me_and_notices_the_bridge() {
  let verified = false;
  const api = { verificationStatus: async () => status(verified) };
  const { model, clock, events } = verifyModel(api);
  model.start();
  clock.advance(4000);
  await flush();
  equal(events.verified.length, 0);
  verified = true; // the bridge submitted the code meanwhile
  clock.advance(4000);
  await flush();
  equal(events.verified.length, 1);
  clock.advance(20_000);
  await flush();
  equal(events.verified.length, 1, 'polling stops once verified');
}

export async function test_verify_submit_wrong_then_right() {
  const api = {
    verificationStatus: async () => status(false),
    verifyPhone: async (code) => {
      if (code !== '123456') throw apiError(400, 'invalid_code');
      return account(true);
    },
  };
  const { model, events } = verifyModel(api);
  model.start();
  await model.submit('12');
  equal(model.error, 'Enter all 6 digits of the code.');
  await model.submit('000000');
  equal(model.error, 'That code is wrong or has expired.');
  await model.submit('123456');
  equal(events.verified.map((a) => a.phone_verified), [true]);
  model.stop();
}

export async function test_resend_cools_down_and_honours_retry_after() {
  const calls = [];
  let refuse = false;
  const api = {
    verificationStatus: async () => status(false),
    resendCode: async () => {
      calls.push('resend');
      if (refuse) throw Object.assign(apiError(429, 'rate_limited'), { retryAfter: 42 });
      return { status: 'code_sent', sent: true };
    },
  };
  const { model, clock } = verifyModel(api);
  model.start(clock.now() - 10_000); // a code went out 10 s ago
  equal(model.cooldownLeft(), 50);
  await model.resend();
  equal(calls.length, 0, 'no request while cooling down');
  clock.advance(50_000);
  await model.resend();
  equal(calls.length, 1);
  equal(model.snapshot('+15550100001').notice, 'Code sent to +15550100001. It can take a minute to arrive.');
  equal(model.cooldownLeft(), 60);
  clock.advance(60_000);
  refuse = true;
  await model.resend();
  equal(model.cooldownLeft(), 42);
  model.stop();
}

export async function test_a_send_the_gateway_did_not_take_is_never_called_sent() {
  let reply;
  const api = {
    verificationStatus: async () => status(false),
    resendCode: () => new Promise((resolve, reject) => { reply = { resolve, reject }; }),
  };
  const { model, clock } = verifyModel(api);
  model.start();
  await flush();
  equal(model.snapshot('+1555').notice, null, 'nothing claimed before anything was sent');
  const pending = model.resend();
  equal(model.snapshot('+1555').notice, 'Sending a code to +1555…');
  equal(model.snapshot('+1555').sending, true);
  reply.reject(Object.assign(apiError(503, 'sms_unavailable'), { retryAfter: 60 }));
  await pending;
  const view = model.snapshot('+1555');
  equal(view.notice, null);
  assert(view.sendFailure.startsWith('Ferry couldn’t text a code to +1555:'), view.sendFailure);
  assert(view.sendFailure.includes('Send a new code in a minute'), 'says what to do');
  equal(view.cooldown, 60);
  clock.advance(60_000);
  const again = model.resend();
  reply.reject(Object.assign(apiError(502, 'sms_refused'), { retryAfter: 60 }));
  await again;
  assert(model.snapshot('+1555').sendFailure.includes('refused to send a code to +1555'));
  equal(model.snapshot('+1555').sendState, 'failed');
  model.stop();
}

export async function test_the_sign_up_send_is_reported_by_the_server() {
  let report = null;
  const api = { verificationStatus: async () => status(false, report) };
  const { model, clock } = verifyModel(api);
  model.start(clock.now()); // signed up here a moment ago
  equal(model.snapshot('+1555').notice, 'Sending a code to +1555…');
  await flush();
  equal(model.snapshot('+1555').sendState, 'sending', 'unknown to the server yet: still sending');
  report = { state: 'failed', error: 'sms_unavailable', at: '2026-11-01T12:00:01Z' };
  clock.advance(1000); // asks sooner while a send's fate is open
  await flush();
  assert(model.snapshot('+1555').sendFailure.includes('couldn’t text a code'));
  equal(model.snapshot('+1555').notice, null);
  report = { state: 'sent', error: null, at: '2026-11-01T12:00:05Z' };
  clock.advance(4000);
  await flush();
  equal(model.snapshot('+1555').notice, 'Code sent to +1555. It can take a minute to arrive.');
  model.stop();
}

export async function test_signup_signs_in_and_remembers_the_send() {
  const clock = new FakeClock();
  const calls = [];
  const api = { signUp: async (p, pw, extra) => calls.push(['signUp', p, pw, extra]) };
  const session = { state: 'signed-out', error: null, signIn: async (p) => { calls.push(['signIn', p]); session.state = 'signed-in'; } };
  const auth = new AuthModel({ api, session, clock });
  const terms = { accept_terms: '2026-12-01', invite: null };
  await auth.signUp('call me', 'long enough', terms);
  assert(auth.error.includes('country code'));
  await auth.signUp('+1 555 010 0077', 'short', terms);
  assert(auth.error.includes('at least 8'));
  await auth.signUp('+1 555 010 0077', 'long enough', { accept_terms: null });
  assert(auth.error.includes('accept the terms'));
  await auth.signUp('+1 555 010 0077', 'long enough', terms);
  equal(calls, [['signUp', '+15550100077', 'long enough', terms], ['signIn', '+15550100077']]);
  equal(auth.codeSentAt, clock.now());
}

export function test_store_tombstones_remove_and_stay_removed() {
  const store = new ConversationStore();
  store.replaceThreads([thread({ id: 1, seq: 5 }), thread({ id: 2, seq: 6, peer: '+15550100003' })]);
  store.applyChanges([message({ id: 10, thread_id: 1, seq: 7 }), message({ id: 11, thread_id: 1, seq: 8, body: 'last' })]);
  equal(store.threads.get(1).last_message.body, 'last');
  store.applyChanges([{ ...message({ id: 11, thread_id: 1, seq: 9 }), deleted: true, body: '' }]);
  equal(store.messagesFor(1).map((m) => m.id), [10]);
  equal(store.threads.get(1).last_message.id, 10, 'preview falls back to the previous message');
  store.applyChanges([], [{ ...thread({ id: 1, seq: 12 }), deleted: true }]);
  assert(!store.threads.has(1));
  store.applyChanges([message({ id: 10, thread_id: 1, seq: 7 })], [thread({ id: 1, seq: 5 })]);
  assert(!store.threads.has(1), 'an older page cannot resurrect it');
  store.applyChanges([], [thread({ id: 1, seq: 20 })]);
  assert(store.threads.has(1), 'a newer record (a new message) revives it');
}

export function test_applyChanges_reports_only_new_messages() {
  const store = new ConversationStore();
  const first = store.applyChanges([message({ id: 1, seq: 1 })]);
  const again = store.applyChanges([message({ id: 1, seq: 2, status: 'received' }), message({ id: 2, seq: 3 })]);
  equal(first.map((m) => m.id), [1]);
  equal(again.map((m) => m.id), [2]);
}

export async function test_undo_delete_sends_nothing_and_delete_waits() {
  const clock = new FakeClock();
  const calls = [];
  const deleted = [];
  const api = { deleteThread: async (id, opts) => calls.push([id, opts.keepalive]) };
  const deletes = new UndoableDeletes({ api, clock, onDeleted: (id) => deleted.push(id) });
  deletes.delete(7, 'Ada');
  assert(deletes.isHidden(7));
  equal(deletes.toast.text, 'Conversation with Ada deleted');
  clock.advance(4000);
  deletes.undo(7);
  assert(!deletes.isHidden(7));
  equal(deletes.toast, null);
  clock.advance(10_000);
  equal(calls, []);
  deletes.delete(7, 'Ada');
  clock.advance(5000);
  await flush();
  equal(calls, [[7, false]]);
  equal(deleted, [7]);
  deletes.delete(8, 'Bo');
  deletes.flush(); // the page is closing
  await flush();
  equal(calls[1], [8, true]);
}

export async function test_search_debounces_and_keeps_the_newest_answer() {
  const clock = new FakeClock();
  const asked = [];
  const api = { search: async (q) => { asked.push(q); return { messages: [message({ id: asked.length, body: `about ${q}` })], before: null }; } };
  const search = new SearchModel({ api, clock });
  search.setQuery('u');
  clock.advance(1000);
  equal(asked, [], 'one character is not searched');
  search.setQuery('um');
  clock.advance(100);
  search.setQuery('umb');
  clock.advance(250);
  await flush();
  equal(asked, ['umb']);
  equal(search.answered, 'umb');
  equal(search.results[0].body, 'about umb');
  search.close();
  equal(search.results, []);
}

export async function test_search_follows_cursors_to_a_page_then_offers_older() {
  const clock = new FakeClock();
  const asked = [];
  // The server stops early twice (budget spent) before it finds 50; then 50 more remain.
  const pages = {
    null: { messages: [], before: 900 },
    900: { messages: [message({ id: 1, body: 'hit one' })], before: 500 },
    500: { messages: Array.from({ length: 49 }, (_, i) => message({ id: 10 + i, body: 'hit' })), before: 300 },
    300: { messages: [message({ id: 99, body: 'hit last' })], before: null },
  };
  const api = { search: async (q, before) => { asked.push(before); return pages[String(before)]; } };
  const search = new SearchModel({ api, clock });
  search.setQuery('hit');
  clock.advance(250);
  await flush(); await flush(); await flush(); await flush();
  equal(asked, [null, 900, 500], 'follows the cursor until a page of 50');
  equal(search.results.length, 50);
  equal(search.more, 300, 'offers older messages');
  equal(search.busy, false);
  search.loadMore();
  await flush(); await flush();
  equal(asked, [null, 900, 500, 300]);
  equal(search.results.length, 51);
  equal(search.results[50].body, 'hit last');
  equal(search.more, null, 'all searched');
}

export function test_highlight_and_snippet() {
  equal(highlight('Blue umbrella, UMBRELLA!', 'umbrella'), [
    { text: 'Blue ', match: false }, { text: 'umbrella', match: true }, { text: ', ', match: false },
    { text: 'UMBRELLA', match: true }, { text: '!', match: false },
  ]);
  equal(highlight('a.b a+b', 'a+b'), [{ text: 'a.b ', match: false }, { text: 'a+b', match: true }]);
  equal(snippet('short text', 'text'), 'short text');
  const long = `${'word '.repeat(30)}needle at the end`;
  const cut = snippet(long, 'needle');
  assert(cut.startsWith('…') && cut.includes('needle') && cut.length < 60, cut);
}

export function test_shortcuts() {
  const key = (k, mods = {}) => ({ key: k, code: '', altKey: false, ctrlKey: false, metaKey: false, shiftKey: false, ...mods });
  equal(shortcutFor(key('ArrowDown', { altKey: true }), false), 'next');
  equal(shortcutFor(key('ArrowUp', { altKey: true }), true), 'prev');
  equal(shortcutFor({ ...key('{', { ctrlKey: true, shiftKey: true }), code: 'BracketLeft' }, true), 'prev');
  equal(shortcutFor(key('k', { ctrlKey: true }), true), 'search');
  equal(shortcutFor(key('/'), false), 'search');
  equal(shortcutFor(key('/'), true), null, 'typing a slash is text');
  equal(shortcutFor(key('?', { shiftKey: true }), false), 'help');
  equal(shortcutFor(key('M', { ctrlKey: true, shiftKey: true }), true), 'compose');
  equal(shortcutFor(key('Escape'), true), 'escape');
  equal(shortcutFor(key('a'), false), null);
}

export function test_consent_cookie() {
  const jar = { values: new Map(), get(n) { return this.values.get(n) ?? null; }, set(n, v, o) { this.values.set(n, v); this.options = o; } };
  const consent = new Consent(jar);
  assert(consent.needed);
  consent.record(true);
  assert(!consent.needed && consent.accepted);
  equal(jar.values.get(CONSENT_COOKIE), 'yes');
  equal(jar.options.maxAge, CONSENT_MAX_AGE);
  equal(CONSENT_MAX_AGE, 7776000);
  consent.record(false);
  assert(!consent.needed && !consent.accepted);
}

export async function test_pairing_counts_down_and_notices_the_new_device() {
  const clock = new FakeClock();
  const expires = new Date(clock.now() + 90_000).toISOString();
  const api = { pairingCode: async () => ({ code: 'ABCD-1234', uri: 'ferry://pair?x', qr_svg: '<svg xmlns="http://www.w3.org/2000/svg">é</svg>', expires_at: expires }) };
  const pairing = new PairingModel({ api, clock });
  await pairing.open([{ id: '1', name: 'Pixel', online: false, last_seen: null }]);
  const view = pairing.snapshot();
  equal([view.state, view.secondsLeft, view.code], ['showing', 90, 'ABCD-1234']);
  equal(new TextDecoder().decode(Uint8Array.from(atob(view.qrSrc.split(',')[1]), (c) => c.charCodeAt(0))), '<svg xmlns="http://www.w3.org/2000/svg">é</svg>');
  clock.advance(30_000);
  equal(mmss(pairing.secondsLeft()), '1:00');
  pairing.noticeDevices([{ id: '1', name: 'Pixel', online: true, last_seen: null }]);
  equal(pairing.state, 'showing', 'a known device coming online is not a new pairing');
  pairing.noticeDevices([{ id: '1', name: 'Pixel', online: true, last_seen: null }, { id: '2', name: 'Galaxy', online: true, last_seen: null }]);
  equal([pairing.state, pairing.pairedName], ['paired', 'Galaxy']);
  await pairing.open([]);
  clock.advance(91_000);
  equal(pairing.state, 'expired');
  assert(svgDataUrl('<svg/>').startsWith('data:image/svg+xml;base64,'));
}

export function test_counter_and_labels() {
  equal(smsCounter(''), { label: '', long: false, over: 0 });
  equal(smsCounter('Hello'), { label: 'GSM-7 · 155 left · 1 SMS', long: false, over: 0 });
  equal(smsCounter('€'.repeat(81)).label, 'GSM-7 · 143 left · 2 SMS');
  equal(smsCounter('👋').label, 'Unicode · 68 left · 1 SMS');
  equal(eventLabel('login_failed'), 'Failed sign-in attempt');
  equal(eventLabel('something_new'), 'Something new');
  equal(describeAgent('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/140.0 Safari/537.36'), 'Chrome on Linux');
  equal(describeAgent(null), 'Unknown browser');
}
