import { conversationItems, previewText } from '/static/js/domain/conversation-list.js';
import { dayKey, dayLabel, groupByDay, relativeTime } from '/static/js/domain/time.js';
import { equal } from './assert.js';
import { message, thread } from './fakes.js';

const UTC = { locale: 'en-US', timeZone: 'UTC' };
const NOW = Date.parse('2026-11-04T15:30:00Z'); // a Wednesday

export function test_day_key_respects_time_zone() {
  equal(dayKey('2026-11-04T02:00:00Z', { timeZone: 'UTC' }), '2026-11-04');
  equal(dayKey('2026-11-04T02:00:00Z', { timeZone: 'America/New_York' }), '2026-11-03');
}

export function test_day_labels() {
  equal(dayLabel('2026-11-04T01:00:00Z', NOW, UTC), 'Today');
  equal(dayLabel('2026-11-03T23:59:00Z', NOW, UTC), 'Yesterday');
  equal(dayLabel('2026-11-01T10:00:00Z', NOW, UTC), 'Sunday');
  equal(dayLabel('2026-10-20T10:00:00Z', NOW, UTC), 'Tue, Oct 20');
  equal(dayLabel('2025-10-20T10:00:00Z', NOW, UTC), 'Oct 20, 2025');
}

export function test_relative_times() {
  equal(relativeTime('2026-11-04T15:29:30Z', NOW, UTC), 'Now');
  equal(relativeTime('2026-11-04T15:25:00Z', NOW, UTC), '5 min');
  equal(relativeTime('2026-11-04T09:05:00Z', NOW, UTC), '9:05 AM');
  equal(relativeTime('2026-11-02T09:05:00Z', NOW, UTC), 'Mon');
  equal(relativeTime('2026-10-02T09:05:00Z', NOW, UTC), 'Oct 2');
  equal(relativeTime('2024-10-02T09:05:00Z', NOW, UTC), '10/2/24');
}

export function test_group_by_day() {
  const groups = groupByDay([
    message({ id: 1, timestamp: '2026-11-03T10:00:00Z' }),
    message({ id: 2, timestamp: '2026-11-03T23:00:00Z' }),
    message({ id: 3, timestamp: '2026-11-04T08:00:00Z' }),
  ], NOW, UTC);
  equal(groups.map((g) => [g.label, g.messages.map((m) => m.id)]), [['Yesterday', [1, 2]], ['Today', [3]]]);
}

export function test_conversation_items_sorted_by_activity() {
  const items = conversationItems([
    thread({ id: 1, last_activity: '2026-11-04T10:00:00Z', last_message: message({ body: 'a\n  b' }) }),
    thread({ id: 2, last_activity: '2026-11-04T15:00:00Z', unread: 2,
      last_message: message({ id: 2, thread_id: 2, direction: 'out', body: 'hey' }) }),
  ], NOW, UTC);
  equal(items.map((i) => i.id), [2, 1]);
  equal(items[0].previewFromMe, true);
  equal(items[0].time, '30 min');
  equal(items[1].preview, 'a b');
  equal(items[0].unread, 2);
}

export function test_preview_is_one_bounded_line() {
  equal(previewText('x'.repeat(500)).length, 120);
}
