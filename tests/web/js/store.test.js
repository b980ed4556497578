import { ConversationStore } from '/static/js/domain/store.js';
import { assert, equal } from './assert.js';
import { message, thread } from './fakes.js';

export function test_duplicate_changes_show_once() {
  const store = new ConversationStore();
  const m = message({ id: 5, seq: 10 });
  store.applyChanges([m], [thread({ seq: 10 })]);
  store.applyChanges([m, m], [thread({ seq: 10 })]);
  equal(store.messagesFor(1).length, 1);
}

export function test_older_copy_never_overwrites_newer() {
  const store = new ConversationStore();
  store.applyChanges([message({ id: 5, direction: 'out', status: 'delivered', seq: 20 })]);
  store.applyChanges([message({ id: 5, direction: 'out', status: 'queued', seq: 11 })]);
  equal(store.messagesFor(1)[0].status, 'delivered');
  store.applyChanges([], [thread({ unread: 0, seq: 30 })]);
  store.applyChanges([], [thread({ unread: 4, seq: 25 })]);
  equal(store.threads.get(1).unread, 0);
}

export function test_messages_sorted_by_time_then_id() {
  const store = new ConversationStore();
  store.applyChanges([
    message({ id: 3, timestamp: '2026-11-01T10:00:02Z' }),
    message({ id: 1, timestamp: '2026-11-01T10:00:01Z' }),
    message({ id: 2, timestamp: '2026-11-01T10:00:02Z' }),
  ]);
  equal(store.messagesFor(1).map((m) => m.id), [1, 2, 3]);
}

export function test_confirmed_message_replaces_pending_by_client_msg_id() {
  const store = new ConversationStore();
  store.applyChanges([], [thread()]);
  store.putPending({
    id: null, thread_id: 1, peer: '+15550100002', direction: 'out', body: 'yo', status: 'sending',
    timestamp: '2026-11-01T12:00:00Z', client_msg_id: 'c1', error: null, retryable: false, pending: true,
  });
  equal(store.messagesFor(1).length, 1);
  store.applyChanges([message({ id: 9, direction: 'out', body: 'yo', status: 'queued', client_msg_id: 'c1' })]);
  const list = store.messagesFor(1);
  equal(list.length, 1);
  equal(list[0].id, 9);
  // A late local update (e.g. a retry finishing) must not bring the bubble back.
  store.putPending({ ...store.pending('c1') ?? {}, client_msg_id: 'c1', thread_id: 1, pending: true });
  equal(store.messagesFor(1).length, 1);
}

export function test_message_for_unknown_thread_creates_stand_in_until_real_thread() {
  const store = new ConversationStore();
  store.applyChanges([message({ id: 1, thread_id: 7, body: 'first' })]);
  equal(store.threads.get(7).last_message.body, 'first');
  store.applyChanges([], [thread({ id: 7, title: 'Ada', seq: 1 })]);
  equal(store.threads.get(7).title, 'Ada');
}

export function test_new_message_updates_thread_preview() {
  const store = new ConversationStore();
  store.applyChanges([], [thread({ last_message: message({ id: 1, body: 'old' }) })]);
  store.applyChanges([message({ id: 2, body: 'new', timestamp: '2026-11-01T11:30:00Z' })]);
  equal(store.threads.get(1).last_message.body, 'new');
  equal(store.threads.get(1).last_activity, '2026-11-01T11:30:00Z');
}

export function test_replace_threads_drops_cached_pages_and_bumps_epoch() {
  const store = new ConversationStore();
  store.applyChanges([message()], [thread()]);
  const epoch = store.epoch;
  store.replaceThreads([thread({ id: 2 })]);
  assert(store.epoch > epoch, 'epoch bumped');
  equal([...store.threads.keys()], [2]);
  equal(store.messagesFor(1).length, 0);
}
