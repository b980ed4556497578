import { ComposeModel } from '/static/js/domain/compose-model.js';
import { callingCode, checkRecipient, isName, replyRefusal } from '/static/js/protocol/phone.js';
import { assert, equal } from './assert.js';

/** The table protocol/phone.py is tested against too (tests/protocol/test_phone.py). */
async function cases() {
  const resp = await fetch('/tests/peer-addresses.json');
  assert(resp.ok, `table not served: ${resp.status}`);
  return (await resp.json()).cases;
}

export async function test_to_field_agrees_with_the_server() {
  const table = await cases();
  assert(table.length >= 25, 'the whole table loaded');
  for (const c of table) {
    const check = checkRecipient(c.text, c.line);
    const where = `${c.line} ${JSON.stringify(c.text)}`;
    if (c.kind === 'number' || c.kind === 'short_code') {
      equal([check.state, check.to], ['valid', c.to], where);
    } else {
      equal(check.to, null, `${where} must not be sent`);
      assert(check.refusal, `${where} says why not`);
      if (c.kind === 'name') equal(check.state, 'name', where);
    }
  }
}

export function test_calling_codes_of_line_numbers() {
  equal(['+15550100001', '+79001234567', '+447700900001', '+4532123456', '+353851234567', '+8801812345678']
    .map(callingCode), ['1', '7', '44', '45', '353', '880']);
  equal([null, '', '07700900123', '+', '+0123456', '+12'].map(callingCode), [null, null, null, null, null, null]);
}

export function test_hints_say_what_will_happen_on_the_line() {
  const uk = '+447700900001';
  equal(checkRecipient('07700 900123', uk).text, 'Will send to 07700900123 as dialled on your +44 line');
  equal(checkRecipient('07700 900123').text, 'Will send to 07700900123 as dialled on your phone');
  equal(checkRecipient('123 45', uk).text, 'Will send to the short code 12345');
  equal(checkRecipient('0770', uk).state, 'valid'); // a short code as far as anyone can tell
  equal(checkRecipient('(0770', uk).state, 'partial'); // punctuation: a number on its way
  equal(checkRecipient('+44 7700', uk).state, 'partial');
  equal(checkRecipient('BANK', uk).text, 'Looking up contacts by name');
  equal(checkRecipient('BANK', uk).refusal,
    "“BANK” is a name, not a number, and a name can't receive texts. Pick a contact from the list or type a phone number.");
  equal(checkRecipient('12\u0000345', uk).state, 'invalid');
  equal(checkRecipient('B\u202eANK', uk).state, 'invalid');
  // Digits of other scripts count as digits, as on the server.
  equal(checkRecipient('\uff10\uff17\uff17\uff10\uff10 900123', uk).to, '07700900123');
  equal(checkRecipient('\u0661\u0662\u0663\u0664\u0665', uk).to, '12345');
}

export function test_names_cannot_be_replied_to() {
  equal([isName('BANK'), isName('Amazon.de'), isName('12345'), isName('+447700900123')], [true, true, false, false]);
  equal(replyRefusal('12345'), null);
  equal(replyRefusal('BANK'), "You can't reply to BANK: it is a name, not a phone number, so it cannot receive texts.");
}

function composeFixture(selection) {
  const sent = [];
  const outbox = { send: (...args) => { sent.push(args); return Promise.resolve(null); } };
  const store = { threadForPeer: () => null, pendingForPeer: () => [] };
  const api = {
    lines: async () => [
      { id: 1, number: '+15550100001', label: '', verified: true },
      { id: 2, number: '+447700900001', label: 'UK', verified: true },
    ],
    contacts: async () => [],
  };
  const model = new ComposeModel({ api, store, outbox, selection });
  return { model, sent };
}

export async function test_new_message_reads_the_number_for_the_chosen_line() {
  const selection = { pane: 'new', selectedThread: null, selectedId: null, openThread() {} };
  const { model, sent } = composeFixture(selection);
  await model.loadLines();
  model.startNew();
  equal(model.view().lineId, 1);
  model.setRecipient('07700 900123');
  equal(model.view().check.text, 'Will send to 07700900123 as dialled on your +1 line');
  model.setLine(2);
  equal(model.view().check.text, 'Will send to 07700900123 as dialled on your +44 line');
  equal(model.send('hello'), true);
  equal(sent, [['07700900123', 'hello', null, 2]]);

  model.setRecipient('BANK');
  equal(model.send('hello?'), false);
  assert(model.view().error.startsWith('“BANK” is a name, not a number'), model.view().error);
  equal(sent.length, 1);
}

export function test_a_name_thread_sends_nothing_a_short_code_thread_does() {
  const selection = { pane: 'thread', selectedThread: { id: 5, peer: 'BANK', line_id: 1 }, selectedId: 5 };
  const { model, sent } = composeFixture(selection);
  equal(model.send('anyone there?'), false);
  selection.selectedThread = { id: 6, peer: '12345', line_id: 1 };
  selection.selectedId = 6;
  equal(model.send('STOP'), true);
  equal(sent, [['12345', 'STOP', 6, 1]]);
}
