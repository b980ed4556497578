import { Outbox } from '/static/js/domain/outbox.js';
import { ConversationStore } from '/static/js/domain/store.js';
import { equal, flush } from './assert.js';
import { FakeApi, FakeClock, apiError, thread } from './fakes.js';

function setup() {
  const api = new FakeApi();
  const clock = new FakeClock();
  const store = new ConversationStore();
  store.applyChanges([], [thread()]);
  let n = 0;
  const outbox = new Outbox({ api, store, clock, uuid: () => `uuid-${++n}`, random: () => 0 });
  return { api, clock, store, outbox };
}

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

export async function test_gives_up_then_manual_retry_reuses_the_id() {
  const { api, clock, store, outbox } = setup();
  api.sendResults = [apiError(0, 'network_error'), apiError(0, 'network_error'), apiError(0, 'network_error')];
  const done = outbox.send('+15550100002', 'hello', 1);
  for (let i = 0; i < 3; i++) {
    await flush();
    clock.advance(2000);
  }
  await done;
  const [failed] = store.messagesFor(1);
  equal([failed.status, failed.retryable], ['failed', true]);
  await outbox.retry('uuid-1');
  equal(api.calls.filter((c) => c[0] === 'send').map((c) => c[3]), ['uuid-1', 'uuid-1', 'uuid-1', 'uuid-1']);
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
