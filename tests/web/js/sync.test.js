import { ConversationStore } from '/static/js/domain/store.js';
import { SyncClient } from '/static/js/domain/sync-client.js';
import { assert, equal, flush } from './assert.js';
import { FakeApi, FakeClock, FakeSockets, apiError, message, thread } from './fakes.js';

async function started({ seq = 5, threads = [thread({ seq: 5 })], epoch = undefined } = {}) {
  const api = new FakeApi();
  api.threadList = epoch === undefined ? { threads, seq } : { threads, seq, epoch };
  const clock = new FakeClock();
  const sockets = new FakeSockets();
  const store = new ConversationStore();
  const events = { sessionGone: 0, fatal: [] };
  const sync = new SyncClient({
    api, store, clock, socketFactory: sockets.factory, random: () => 0.5,
    onSessionGone: () => events.sessionGone++, onFatal: (code) => events.fatal.push(code),
  });
  sync.start();
  await flush();
  return { api, clock, sockets, store, sync, events };
}

export async function test_subscribes_from_the_thread_list_seq() {
  const { sockets, sync } = await started({ seq: 5 });
  equal(sockets.last.path, '/api/v1/ws');
  equal(sync.status, 'connecting');
  sockets.last.open();
  equal(sockets.last.sent, [{ t: 'subscribe', since: 5 }]);
  equal(sync.status, 'connected');
}

export async function test_applies_changes_and_advances_cursor() {
  const { sockets, sync, store } = await started();
  sockets.last.open();
  sockets.last.receive({ t: 'changes', messages: [message({ id: 1, seq: 6 })], threads: [], upto: 6 });
  equal(sync.cursor, 6);
  equal(store.messagesFor(1).length, 1);
}

export async function test_reconnect_resumes_with_since_and_replayed_changes_show_once() {
  const { sockets, sync, store, clock } = await started();
  sockets.last.open();
  const frame = { t: 'changes', messages: [message({ id: 1, seq: 6 }), message({ id: 2, seq: 7 })], threads: [], upto: 7 };
  sockets.last.receive(frame);
  sockets.last.drop();
  equal(sync.status, 'reconnecting');
  clock.advance(1000);
  await flush();
  equal(sockets.all.length, 2, 'a new socket after the backoff');
  sockets.last.open();
  equal(sockets.last.sent[0], { t: 'subscribe', since: 7 });
  sockets.last.receive(frame); // the server may replay what we already have
  sockets.last.receive({ t: 'changes', messages: [message({ id: 2, seq: 8, body: 'edited' })], threads: [], upto: 8 });
  equal(store.messagesFor(1).map((m) => m.id), [1, 2]);
  equal(store.messagesFor(1)[1].body, 'edited');
  equal(sync.cursor, 8);
}

export async function test_backoff_grows_and_status_turns_unreachable() {
  const { sockets, sync, clock } = await started();
  const delays = [];
  for (let i = 0; i < 4; i++) {
    sockets.last.drop();
    delays.push(clock.pending()[0]);
    clock.advance(clock.pending()[0]);
    await flush();
  }
  equal(delays, [1000, 1500, 2500, 4500]); // random() = 0.5
  equal(sync.status, 'unreachable', 'the browser is online: the server is what cannot be reached');
  sockets.last.open();
  equal(sync.status, 'connected');
}

export async function test_network_back_online_reconnects_at_once() {
  const { sockets, sync } = await started();
  sync.setNetworkOnline(false);
  sockets.last.drop();
  equal(sync.status, 'offline');
  sync.setNetworkOnline(true);
  await flush();
  equal(sockets.all.length, 2);
}

export async function test_retry_now_skips_the_backoff_and_resets_it() {
  const { sockets, sync, clock } = await started();
  for (let i = 0; i < 4; i++) {
    sockets.last.drop();
    clock.advance(clock.pending()[0]);
    await flush();
  }
  sockets.last.drop();
  equal(sync.status, 'unreachable');
  const before = sockets.all.length;
  sync.retryNow();
  await flush();
  equal(sockets.all.length, before + 1, 'a new socket without waiting');
  equal(sync.status, 'connecting');
  sockets.last.drop();
  equal(clock.pending(), [1000], 'the backoff starts over');
  equal(sync.status, 'reconnecting');
}

export async function test_close_4401_signs_out_without_retry() {
  const { sockets, sync, clock, events } = await started();
  sockets.last.open();
  sockets.last.drop(4401);
  equal(events.sessionGone, 1);
  equal(sync.status, 'idle');
  clock.advance(60_000);
  await flush();
  equal(sockets.all.length, 1);
}

export async function test_resync_refetches_threads_and_resubscribes() {
  const { sockets, sync, api, store } = await started({ seq: 5 });
  sockets.last.open();
  api.threadList = { threads: [thread({ id: 3, seq: 90 })], seq: 90 };
  sockets.last.receive({ t: 'resync' });
  await flush();
  equal(sync.cursor, 90);
  equal([...store.threads.keys()], [3]);
  equal(sockets.last.sent.at(-1), { t: 'subscribe', since: 90 });
}

export async function test_the_cursor_travels_with_its_epoch_and_a_resync_brings_the_new_one() {
  const { sockets, sync, api, clock } = await started({ seq: 5, epoch: 'aaaa' });
  sockets.last.open();
  equal(sockets.last.sent, [{ t: 'subscribe', since: 5, epoch: 'aaaa' }]);
  sockets.last.receive({ t: 'changes', messages: [message({ id: 1, seq: 6 })], threads: [], upto: 6, epoch: 'aaaa' });
  // The server was restored from a backup: a new history, whose seq 6 is not ours.
  api.threadList = { threads: [thread({ id: 4, seq: 3 })], seq: 3, epoch: 'bbbb' };
  sockets.last.receive({ t: 'resync', epoch: 'bbbb' });
  await flush();
  equal([sync.cursor, sync.epoch], [3, 'bbbb']);
  equal(sockets.last.sent.at(-1), { t: 'subscribe', since: 3, epoch: 'bbbb' });
  // A reconnect resumes in the new history.
  sockets.last.drop();
  clock.advance(clock.pending()[0]);
  await flush();
  sockets.last.open();
  equal(sockets.last.sent[0], { t: 'subscribe', since: 3, epoch: 'bbbb' });
}

export async function test_changes_of_another_epoch_make_the_client_start_over() {
  const { sockets, sync, api, store, clock } = await started({ epoch: 'aaaa' });
  sockets.last.open();
  sockets.last.receive({ t: 'changes', messages: [message({ id: 9, seq: 6 })], threads: [], upto: 6, epoch: 'zzzz' });
  equal(store.messagesFor(1).length, 0, 'nothing of the other history applied');
  equal(sync.cursor, 5);
  equal(sockets.all.at(-1).closed, 4000);
  api.threadList = { threads: [thread({ id: 2, seq: 8 })], seq: 8, epoch: 'zzzz' };
  clock.advance(clock.pending()[0]);
  await flush();
  equal([...store.threads.keys()], [2], 'the thread list was fetched again');
  sockets.last.open();
  equal(sockets.last.sent[0], { t: 'subscribe', since: 8, epoch: 'zzzz' });
}

export async function test_malformed_frame_reconnects_without_moving_cursor() {
  const { sockets, sync, clock } = await started({ seq: 5 });
  sockets.last.open();
  sockets.last.receive('{"t":"changes","messages":"oops","upto":99}');
  equal(sockets.all[0].closed, 4000);
  equal(sync.cursor, 5);
  clock.advance(1000);
  await flush();
  sockets.last.open();
  equal(sockets.last.sent[0], { t: 'subscribe', since: 5 });
}

export async function test_pings_and_drops_a_silent_connection() {
  const { sockets, clock } = await started();
  sockets.last.open();
  clock.advance(25_000);
  equal(sockets.last.sent.at(-1), { t: 'ping' });
  sockets.last.receive({ t: 'pong' });
  clock.advance(25_000);
  equal(sockets.last.sent.filter((f) => f.t === 'ping').length, 2);
  clock.advance(25_000); // no pong this time
  equal(sockets.all[0].closed, 4000);
}

export async function test_device_frames_update_bridge_state() {
  const { sockets, sync } = await started();
  sockets.last.open();
  sockets.last.receive({ t: 'device', devices: [{ id: 1, name: 'Pixel', online: true, last_seen: null }] });
  equal(sync.devices[0].online, true);
}

export async function test_unverified_phone_is_fatal() {
  const api = new FakeApi();
  api.threadList = apiError(403, 'phone_unverified');
  const sockets = new FakeSockets();
  const fatal = [];
  const sync = new SyncClient({
    api, store: new ConversationStore(), clock: new FakeClock(), socketFactory: sockets.factory,
    onFatal: (code) => fatal.push(code),
  });
  sync.start();
  await flush();
  equal(fatal, ['phone_unverified']);
  equal(sockets.all.length, 0);
  assert(sync.status === 'idle');
}

export async function test_stale_socket_events_are_ignored_after_stop() {
  const { sockets, sync, store } = await started();
  const old = sockets.last;
  old.open();
  sync.stop();
  old.receive({ t: 'changes', messages: [message({ id: 1 })], threads: [], upto: 50 });
  equal(store.messagesFor(1).length, 0);
  equal(sync.cursor, 0);
}
