/**
 * Issue #16, phones as sources, in the view models: a phone that gives no delivery
 * reports (Termux) is shown as such, never "Delivered" nor a bare "Sent"; the contacts
 * of several phones are one list, named as the chosen line's phone names them.
 */
import { mergedContacts } from '/static/js/domain/compose-model.js';
import { bubble } from '/static/js/domain/thread-model.js';
import { parseMessage } from '/static/js/protocol/schema.js';
import { equal } from './assert.js';
import { message } from './fakes.js';

export function test_a_send_without_delivery_report_says_so() {
  const b = bubble(parseMessage(message({ direction: 'out', status: 'sent_no_report' })), {});
  equal([b.status, b.statusLabel], ['sent_no_report', 'Sent from phone (no delivery report)']);
  equal(bubble(parseMessage(message({ direction: 'out', status: 'sent' })), {}).statusLabel, 'Sent');
}

export function test_contacts_of_two_phones_are_one_list_named_for_the_chosen_line() {
  const contacts = [
    { id: 1, name: 'Alice', number: '+15550100002', line_id: 1 },
    { id: 2, name: 'Bob', number: '+15550100003', line_id: 1 },
    { id: 3, name: 'Mum', number: '+15550100002', line_id: 2 },
  ];
  equal(mergedContacts(contacts, 1).map((c) => [c.name, c.line_id]), [['Alice', 1], ['Bob', 1]]);
  equal(mergedContacts(contacts, 2).map((c) => [c.name, c.line_id]), [['Bob', 1], ['Mum', 2]]);
}
