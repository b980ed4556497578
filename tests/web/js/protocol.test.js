import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffDelay } from '/static/js/protocol/backoff.js';
import { FrameTooLargeError, ProtocolError } from '/static/js/protocol/errors.js';
import { MAX_FRAME_CHARS, decodeServerFrame, encodePing, encodeSubscribe } from '/static/js/protocol/frames.js';
import { checkRecipient, normalizePhone } from '/static/js/protocol/phone.js';
import { parseMessage, parseThreadsResponse } from '/static/js/protocol/schema.js';
import { assert, equal, throws } from './assert.js';
import { message, thread } from './fakes.js';

export function test_backoff_stays_within_one_and_thirty_seconds() {
  for (let attempt = 0; attempt < 60; attempt++) {
    for (const r of [0, 0.25, 0.5, 0.999999, 1]) {
      const d = backoffDelay(attempt, r);
      assert(d >= BACKOFF_BASE_MS && d <= BACKOFF_CAP_MS, `attempt ${attempt} r ${r} gave ${d}`);
    }
  }
  equal(backoffDelay(0, 0.7), 1000, 'first retry');
  equal(backoffDelay(100, 1), 30000, 'cap');
}

export function test_backoff_grows_exponentially_with_jitter() {
  equal([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, 1)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert(backoffDelay(4, 0.1) < backoffDelay(4, 0.9), 'random spreads the delay');
}

export function test_changes_frame_decodes_and_validates() {
  const frame = decodeServerFrame(JSON.stringify({
    t: 'changes', messages: [message({ id: 7 })], threads: [thread()], upto: 42,
  }));
  equal(frame.t, 'changes');
  equal(frame.upto, 42);
  equal(frame.messages[0].id, 7);
  equal(frame.epoch, null, 'a server without epochs');
  assert(Object.isFrozen(frame.messages[0]), 'messages are immutable');
  const withEpoch = decodeServerFrame(JSON.stringify({ t: 'changes', messages: [], threads: [], upto: 1, epoch: 'e1' }));
  equal(withEpoch.epoch, 'e1');
  throws(() => decodeServerFrame(JSON.stringify({ t: 'changes', messages: [], threads: [], upto: 1, epoch: 7 })),
    (e) => e instanceof ProtocolError);
}

export function test_malformed_frames_raise_protocol_errors() {
  const bad = [
    'not json', '[]', '{"t":"changes","messages":[],"threads":[]}',
    JSON.stringify({ t: 'changes', messages: [{ ...message(), id: -1 }], threads: [], upto: 1 }),
    JSON.stringify({ t: 'changes', messages: [{ ...message(), direction: 'sideways' }], threads: [], upto: 1 }),
    JSON.stringify({ t: 'changes', messages: [{ ...message(), timestamp: 'yesterday' }], threads: [], upto: 1 }),
    JSON.stringify({ t: 'device', devices: 'none' }),
  ];
  for (const text of bad) throws(() => decodeServerFrame(text), (e) => e instanceof ProtocolError, text);
}

export function test_oversized_frame_is_refused_before_parsing() {
  const huge = 'x'.repeat(MAX_FRAME_CHARS + 1);
  throws(() => decodeServerFrame(huge), (e) => e instanceof FrameTooLargeError);
}

export function test_unknown_frames_and_statuses_are_tolerated() {
  equal(decodeServerFrame('{"t":"something-new","x":1}'), { t: 'unknown' });
  equal(parseMessage({ ...message(), status: 'teleported' }).status, 'unknown');
  equal(decodeServerFrame('{"t":"resync"}'), { t: 'resync' });
  equal(decodeServerFrame('{"t":"error","code":"x","message":"m"}'), { t: 'error', code: 'x', message: 'm' });
}

export function test_only_known_fields_survive_parsing() {
  const { threads, seq } = parseThreadsResponse({
    threads: [{ ...thread({ last_message: message() }), evil: '<script>' }], seq: 3,
  });
  equal(seq, 3);
  equal(parseThreadsResponse({ threads: [], seq: 3, epoch: 'e1' }).epoch, 'e1');
  assert(!('evil' in threads[0]), 'unknown field dropped');
}

export function test_client_frames() {
  equal(JSON.parse(encodeSubscribe(12)), { t: 'subscribe', since: 12 });
  equal(JSON.parse(encodeSubscribe(12, 'c0ffee')), { t: 'subscribe', since: 12, epoch: 'c0ffee' });
  equal(JSON.parse(encodePing()), { t: 'ping' });
}

export function test_phone_normalization() {
  equal(normalizePhone(' +1 (555) 010-0002 '), '+15550100002');
  equal(normalizePhone('5550100002'), '5550100002');
  equal(normalizePhone('hello'), null);
  equal(normalizePhone('+1'), null);
}

export function test_recipient_checked_as_typed() {
  const state = (/** @type {string} */ s) => checkRecipient(s).state;
  equal(['', 'gra', '+1', '+1 555', '+1 (555) 010-0002', '5550100002'].map(state),
    ['empty', 'name', 'partial', 'partial', 'valid', 'valid']);
  equal(state('+1 555 + 0100'), 'invalid');
  equal(state('+1234567890123456'), 'invalid');
  equal(checkRecipient('+1 (555) 010-0002').text, 'Will send to +15550100002');
  equal(checkRecipient('+1234567890123456').text, 'Too long: a phone number has at most 15 digits (this has 16)');
}
