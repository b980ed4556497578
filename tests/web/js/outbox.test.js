import { Outbox } from '/static/js/domain/outbox.js';
import { ConversationStore } from '/static/js/domain/store.js';
import { createMemoryOutboxDb, openOutboxDb } from '/static/js/platform/outbox-db.js';
import { assert, equal, flush } from './assert.js';
import { FakeApi, FakeClock, apiError, message, thread } from './fakes.js';

function setup(db = createMemoryOutboxDb()) {
  const api = new FakeApi();
  const clock = new FakeClock();
  const store = new ConversationStore();
  store.applyChanges([], [thread()]);
  let n = 0;
  const outbox = new Outbox({ api, store, clock, db, uuid: () => `uuid-${++n}`, random: () => 0 });
  return { api, clock, store, outbox, db };
}

/** Three transport failures in a row: the send gives up for now and waits. */
async function failThrice(api, clock, start) {
  api.sendResults.unshift(apiError(0, 'network_error'), apiError(0, 'network_error'), apiError(0, 'network_error'));
  const done = start();
  for (let i = 0; i < 3; i++) {
    await flush();
    clock.advance(2000);
  }
  await done;
}

const sends = (api) => api.calls.filter((c) => c[0] === 'send').map((c) => c[3]);

export async function test_send_shows_pending_then_confirmed() {
  const { api, store, outbox } = setup();
  const done = outbox.send('+15550100002', 'hello', 1);
  equal(store.messagesFor(1).map((m) => m.status), ['sending']);
  await done;
  equal(api.calls.filter((c) => c[0] === 'send'), [['send', '+15550100002', 'hello', 'uuid-1']]);
  equal(store.messagesFor(1).map((m) => [m.id, m.status]), [[900, 'queued']]);
}

export async function test_transient_failures_retry_with_the_same_client_msg_id() {
  const { api, clock, store, outbox } = setup();
  api.sendResults = [apiError(0, 'network_error'), apiError(503, 'unavailable')];
  const done = outbox.send('+15550100002', 'hello', 1);
  for (let i = 0; i < 3; i++) {
    await flush();
    clock.advance(2000);
  }
  await done;
  const ids = api.calls.filter((c) => c[0] === 'send').map((c) => c[3]);
  equal(ids, ['uuid-1', 'uuid-1', 'uuid-1']);
  equal(store.messagesFor(1).length, 1);
}

export async function test_gives_up_for_now_then_waits_and_retry_reuses_the_id() {
  const { api, clock, store, outbox } = setup();
  await failThrice(api, clock, () => outbox.send('+15550100002', 'hello', 1));
  const [waiting] = store.messagesFor(1);
  equal([waiting.status, waiting.error], ['waiting', null]);
  await outbox.retry('uuid-1');
  equal(sends(api), ['uuid-1', 'uuid-1', 'uuid-1', 'uuid-1']);
  equal(store.messagesFor(1)[0].id, 900);
}

export async function test_refusal_is_not_retried() {
  const { api, store, outbox } = setup();
  api.sendResults = [apiError(400, 'invalid_number')];
  await outbox.send('+1', 'hello', 1);
  equal(api.calls.filter((c) => c[0] === 'send').length, 1);
  const [failed] = store.messagesFor(1);
  equal([failed.status, failed.retryable], ['failed', false]);
  equal(failed.error, 'Not sent: that phone number is not valid.');
  outbox.discard('uuid-1');
  equal(store.messagesFor(1).length, 0);
}

// ---- kept in the browser until the server has it (issue #12) --------------------------

export async function test_an_unsent_message_outlives_the_page_and_goes_out_once_when_the_server_is_back() {
  const db = createMemoryOutboxDb();
  const first = setup(db);
  await first.outbox.restore(7);
  await failThrice(first.api, first.clock, () => first.outbox.send('+15550100002', 'typed while down', 1));
  equal((await db.all('7')).map((r) => [r.client_msg_id, r.status, r.body]), [['uuid-1', 'waiting', 'typed while down']]);

  // Reload: a fresh page, same browser storage.
  const page = setup(db);
  equal(await page.outbox.restore(7), 1);
  const [shown] = page.store.messagesFor(1);
  equal([shown.status, shown.body, shown.client_msg_id], ['waiting', 'typed while down', 'uuid-1']);
  equal(sends(page.api), [], 'nothing sent before the server is reachable');
  await page.outbox.flush(); // the socket is back
  equal(sends(page.api), ['uuid-1'], 'the same client id: the server keeps it single');
  equal(page.store.messagesFor(1).map((m) => m.id), [900]);
  await flush();
  equal(await db.all('7'), [], 'confirmed: the browser\'s copy is gone');
}

export async function test_flush_sends_in_the_order_written_and_stops_when_down_again() {
  const { api, clock, store, outbox } = setup();
  await outbox.restore(7);
  await failThrice(api, clock, () => outbox.send('+15550100002', 'one', 1));
  clock.advance(1000);
  await failThrice(api, clock, () => outbox.send('+15550100002', 'two', 1));
  api.calls.length = 0;
  api.sendResults = [apiError(0, 'network_error'), apiError(0, 'network_error'), apiError(0, 'network_error')];
  const down = outbox.flush();
  for (let i = 0; i < 3; i++) {
    await flush();
    clock.advance(2000);
  }
  await down;
  equal(sends(api), ['uuid-1', 'uuid-1', 'uuid-1'], 'still down: "two" does not jump ahead');
  api.calls.length = 0;
  const out = (id, n, body) => message({ id, direction: 'out', body, status: 'queued', client_msg_id: `uuid-${n}` });
  api.sendResults = [out(901, 1, 'one'), out(902, 2, 'two')];
  await outbox.flush();
  equal(sends(api), ['uuid-1', 'uuid-2']);
  equal(store.messagesFor(1).map((m) => m.body), ['one', 'two']);
}

export async function test_confirmation_by_the_websocket_also_drops_the_copy() {
  const { api, clock, store, outbox, db } = setup();
  await outbox.restore(7);
  await failThrice(api, clock, () => outbox.send('+15550100002', 'hello', 1));
  store.applyChanges([message({ id: 31, direction: 'out', body: 'hello', status: 'queued', client_msg_id: 'uuid-1' })]);
  await flush();
  equal(await db.all('7'), []);
  await outbox.flush();
  equal(sends(api).length, 3, 'nothing sent again');
}

export async function test_an_ended_session_keeps_the_message_and_signing_out_drops_it() {
  const { api, store, outbox, db } = setup();
  await outbox.restore(7);
  api.sendResults = [apiError(401, 'unauthenticated')];
  await outbox.send('+15550100002', 'hello', 1);
  equal(store.messagesFor(1)[0].status, 'waiting', 'goes out after signing in again');
  equal(outbox.unsentCount(), 1);
  equal((await db.all('7')).length, 1);
  equal(await db.all('8'), [], 'another account never sees it');
  await outbox.forget();
  equal(await db.all('7'), []);
}

export async function test_indexeddb_keeps_records_per_account() {
  const db = openOutboxDb();
  const record = (id, account, timestamp) => ({
    client_msg_id: id, account, peer: '+1', line_id: null, thread_id: 1, body: id, timestamp,
    status: 'waiting', error: null, retryable: true,
  });
  await db.clear('test-a');
  await db.clear('test-b');
  await db.put(record('t-2', 'test-a', '2026-11-01T12:00:02Z'));
  await db.put(record('t-1', 'test-a', '2026-11-01T12:00:01Z'));
  await db.put(record('t-3', 'test-b', '2026-11-01T12:00:03Z'));
  equal((await db.all('test-a')).map((r) => r.client_msg_id), ['t-1', 't-2']);
  await db.delete('t-1');
  equal((await db.all('test-a')).map((r) => r.client_msg_id), ['t-2']);
  await db.clear('test-a');
  equal(await db.all('test-a'), []);
  assert((await db.all('test-b')).length === 1);
  await db.clear('test-b');
}

export async function test_a_copy_kept_over_a_week_waits_for_the_user_instead_of_going_out_by_itself() {
  // The server forgets a deleted message's client id after a month: an old copy whose
  // first send did reach it must not be sent again without the user's say.
  const db = createMemoryOutboxDb();
  const first = setup(db);
  await first.outbox.restore(7);
  await failThrice(first.api, first.clock, () => first.outbox.send('+15550100002', 'old news', 1));
  const later = setup(db);
  later.clock.advance(8 * 24 * 3600 * 1000);
  equal(await later.outbox.restore(7), 1);
  const [shown] = later.store.messagesFor(1);
  equal([shown.status, shown.retryable], ['failed', true]);
  assert(shown.error.includes('over a week ago'), shown.error);
  await later.outbox.flush();
  equal(sends(later.api), [], 'not sent by itself');
  await later.outbox.retry('uuid-1');
  equal(sends(later.api), ['uuid-1'], 'sent when the user says so, under its own id');
}

export async function test_a_refusal_shows_the_servers_own_sentence() {
  const { api, store, outbox } = setup();
  const refusal = Object.assign(new Error('BANK is a name, not a number: it cannot receive texts.'), {
    status: 400, code: 'cannot_reply_to_name',
  });
  api.sendResults = [refusal];
  await outbox.send('BANK', 'hello', 1);
  equal(store.messagesFor(1)[0].error, 'Not sent: BANK is a name, not a number: it cannot receive texts.');
}
