/** The status bar's view model (server link, bridges, signal bars, "last seen") and attachment views. */
import { attachmentView, humanSize } from '/static/js/domain/attachments.js';
import { bridgeSummary, signalBars, signalView } from '/static/js/domain/connection-status.js';
import { timeAgo } from '/static/js/domain/time.js';
import { parseDevice, parseMessage } from '/static/js/protocol/schema.js';
import { equal } from './assert.js';

const NOW = Date.parse('2026-11-01T12:00:00Z');
const device = (fields = {}) => ({
  id: '1', name: 'Pixel 8', online: true, last_seen: '2026-11-01T11:55:00Z',
  signal_dbm: -95, operator: 'Ferry Mobile', lines: ['+15550100001'], ...fields,
});

export function test_signal_bars_follow_gsm_thresholds() {
  equal([-51, -89, -90, -97, -98, -103, -104, -113, -120].map(signalBars), [4, 4, 3, 3, 2, 2, 1, 1, 0]);
  equal(signalView(-95), { bars: 3, dbm: -95, label: 'Signal 3 of 4 bars (\u221295 dBm)' });
  equal(signalView(null), null);
}

export function test_one_bridge_online_shows_signal_and_operator() {
  const s = bridgeSummary([device()], 'connected', NOW);
  equal(s.state, 'online');
  equal(s.label, 'Pixel 8 connected');
  equal(s.devices[0].signal.bars, 3);
  equal(s.devices[0].operator, 'Ferry Mobile');
}

export function test_offline_bridge_says_when_it_was_last_seen() {
  const s = bridgeSummary([device({ online: false, signal_dbm: null, operator: null })], 'connected', NOW);
  equal(s.state, 'offline');
  equal(s.label, 'Pixel 8 offline · last seen 5 min ago');
  equal(s.devices[0].signal, null);
  const never = bridgeSummary([device({ online: false, last_seen: null })], 'connected', NOW);
  equal(never.label, 'Pixel 8 offline · never connected');
}

export function test_several_bridges_are_listed_and_summarized() {
  const s = bridgeSummary([device(), device({ id: '2', name: 'Old modem', online: false })], 'connected', NOW);
  equal(s.state, 'partial');
  equal(s.label, '1 of 2 phones connected');
  equal(s.devices.map((d) => d.label), ['Pixel 8 connected', 'Old modem offline']);
  const many = [1, 2, 3, 4].map((n) => device({ id: String(n) }));
  const m = bridgeSummary(many, 'connected', NOW);
  equal([m.label, m.devices.length], ['4 phones connected', 0]);
}

export function test_bridge_state_is_unknown_while_the_server_is_not_reachable() {
  const s = bridgeSummary([device()], 'unreachable', NOW);
  equal([s.state, s.label, s.devices[0].state], ['unknown', 'Phone status unknown', 'unknown']);
  equal(bridgeSummary(null, 'connecting', NOW).label, 'Checking phone…');
  equal(bridgeSummary([], 'connected', NOW).label, 'No phone linked');
}

export function test_time_ago_words() {
  const at = (iso) => timeAgo(iso, NOW, { timeZone: 'UTC', locale: 'en-US' });
  equal(at('2026-11-01T11:59:30Z'), 'just now');
  equal(at('2026-11-01T11:15:00Z'), '45 min ago');
  equal(at('2026-11-01T07:00:00Z'), '5 h ago');
  equal(at('2026-10-31T07:00:00Z'), 'yesterday');
  equal(at('2026-10-28T07:00:00Z'), '4 days ago');
  equal(at('2026-09-01T07:00:00Z'), 'on Sep 1, 2026');
}

export function test_attachment_views_and_sizes() {
  equal([999, 1000, 1234, 254_000, 3_400_000].map(humanSize), ['999 B', '1 KB', '1.2 KB', '254 KB', '3.4 MB']);
  const image = attachmentView({ id: 7, mime: 'image/png', size: 1234, name: null });
  equal([image.kind, image.name, image.url], ['image', 'Image', '/api/v1/attachments/7']);
  const svg = attachmentView({ id: 9, mime: 'image/svg+xml', size: 10, name: 'logo.svg' });
  equal([svg.kind, svg.downloadUrl, svg.label], ['file', '/api/v1/attachments/9?download=1', 'Download logo.svg, 10 B']);
  const m = parseMessage({ id: 1, thread_id: 1, peer: '+1', direction: 'in', body: '', status: 'received',
    timestamp: '2026-11-01T11:00:00Z', seq: 1, attachments: [{ id: 3, mime: 'image/jpeg', size: 5 }] });
  equal(m.attachments, [{ id: 3, mime: 'image/jpeg', size: 5, name: null }]);
  equal(parseMessage({ ...m, attachments: undefined }).attachments, []);
}

export function test_a_phone_importing_its_history_says_how_far_it_is() {
  const parsed = parseDevice(device({ import_done: 41200, import_total: 100000 }));
  const s = bridgeSummary([parsed], 'connected', NOW);
  equal(s.label, 'Pixel 8 connected · Importing 41,200 of 100,000');
  // Nonsense from the server is not shown as progress.
  equal(parseDevice(device({ import_done: 5, import_total: 2 })).importing, null);
  equal(parseDevice(device({ import_done: -1, import_total: 2 })).importing, null);
  equal(parseDevice(device()).importing, null);
}
