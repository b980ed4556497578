/**
 * Issue #16, phones as sources, in the view models: a phone that gives no delivery
 * reports (Termux) is shown as such, never "Delivered" nor a bare "Sent".
 */
import { bubble } from '/static/js/domain/thread-model.js';
import { parseMessage } from '/static/js/protocol/schema.js';
import { equal } from './assert.js';
import { message } from './fakes.js';

export function test_a_send_without_delivery_report_says_so() {
  const b = bubble(parseMessage(message({ direction: 'out', status: 'sent_no_report' })), {});
  equal([b.status, b.statusLabel], ['sent_no_report', 'Sent from phone (no delivery report)']);
  equal(bubble(parseMessage(message({ direction: 'out', status: 'sent' })), {}).statusLabel, 'Sent');
}
