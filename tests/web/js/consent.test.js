/** Terms and broadcast view models, with a fake API and clock. */
import { BroadcastModel, splitNumbers } from '/static/js/domain/broadcast-model.js';
import { OptOutModel } from '/static/js/domain/optout-model.js';
import { TermsModel } from '/static/js/domain/terms-model.js';
import { SignupTermsFields } from '/static/js/ui/terms-views.js';
import { assert, equal } from './assert.js';
import { FakeClock } from './fakes.js';

/** A refusal with the server's sentence. */
const refusal = (status, code, message) => Object.assign(new Error(message), { status, code });

export function test_numbers_split_on_lines_commas_and_semicolons_once_each() {
  equal(splitNumbers(' +15550100011\n+15550100012, +15550100013;;\n+15550100011 '),
    ['+15550100011', '+15550100012', '+15550100013']);
  equal(splitNumbers(' \n, '), []);
}

export async function test_terms_ask_again_only_after_an_earlier_version_and_accept() {
  const calls = [];
  let status = { version: 'v2', accepted_version: 'v1', accepted_at: 'x', accepted: false, must_accept: true };
  const api = {
    termsStatus: async () => status,
    terms: async () => ({ version: 'v2', terms: '# T', privacy: '# P' }),
    acceptTerms: async (v) => {
      calls.push(v);
      status = { ...status, accepted_version: v, accepted: true, must_accept: false };
      return status;
    },
  };
  const terms = new TermsModel({ api });
  await terms.check();
  assert(terms.mustAccept, 'asked');
  equal(terms.snapshot().texts.terms, '# T');
  await terms.accept();
  equal(calls, ['v2']);
  assert(!terms.mustAccept, 'answered');
  terms.reset();
  equal(terms.status, null);
}

export async function test_a_stale_terms_version_is_refused_and_rechecked() {
  let checks = 0;
  const api = {
    termsStatus: async () => { checks++; return { version: 'v3', accepted_version: 'v1', accepted: false, must_accept: true }; },
    terms: async () => ({ version: 'v3', terms: '', privacy: '' }),
    acceptTerms: async () => { throw refusal(409, 'terms_changed', 'The terms changed; read the new version.'); },
  };
  const terms = new TermsModel({ api });
  await terms.check();
  await terms.accept();
  equal(checks, 2);
  equal(terms.error, 'The terms changed; read the new version.');
  assert(terms.mustAccept);
}

export async function test_broadcast_sends_the_list_and_shows_the_servers_refusal() {
  const sent = [];
  const api = {
    consents: async () => [], optOuts: async () => [], broadcasts: async () => [],
    createBroadcast: async (body, numbers, id) => {
      sent.push([body, numbers, id]);
      if (numbers.includes('Mum')) throw refusal(400, 'cannot_reply_to_name', 'Mum is a name, not a number.');
      return {};
    },
  };
  const clock = new FakeClock();
  const model = new BroadcastModel({ api, uuid: () => 'u1', clock });
  await model.show();
  await model.send('  ', '+15550100011');
  equal(model.error, 'Write the message first.');
  await model.send('Open at 9', '\n');
  equal(model.error, 'Add at least one number.');
  await model.send('Open at 9', '+15550100011\n+15550100012');
  equal(sent, [['Open at 9', ['+15550100011', '+15550100012'], 'u1']]);
  assert(model.notice.startsWith('Broadcast started'));
  await model.send('Open at 9', 'Mum');
  equal(model.error, 'Mum is a name, not a number.');
  model.close();
  equal(model.open, false);
}

export function test_signup_fields_follow_the_servers_mode_and_send_the_version() {
  const fields = new SignupTermsFields({ readTerms: () => {} }, 'err');
  const terms = (mode) => ({ rules: { mode, countries: [], terms_version: 'v9' }, version: 'v9' });
  fields.update(terms('open'));
  assert(fields.inviteField.hidden && fields.closed.hidden, 'open: neither');
  equal(fields.values(terms('open')), { accepted: null, invite: null });
  fields.update(terms('invite'));
  assert(!fields.inviteField.hidden, 'invite: the code field shows');
  fields.invite.value = ' abcd-efgh ';
  fields.checkbox.checked = true;
  equal(fields.values(terms('invite')), { accepted: 'v9', invite: 'abcd-efgh' });
  assert(fields.root.textContent.includes('(version v9)'));
  fields.update(terms('closed'));
  assert(!fields.closed.hidden, 'closed: says so');
}

export async function test_optouts_refresh_once_per_key_and_name_the_line() {
  let calls = 0;
  const api = { optOuts: async () => { calls++; return [{ line_id: 2, peer: '+15550100002', keyword: 'ARRET', at: 'x' }]; } };
  const model = new OptOutModel({ api });
  model.follow('7 100');
  model.follow('7 100');
  await new Promise((r) => setTimeout(r, 0));
  equal(calls, 1);
  equal(model.sentence(2, '+15550100002'),
    '+15550100002 replied ARRET on this line; Ferry will not text them until they send START.');
  equal(model.sentence(3, '+15550100002'), null);  // another line
  equal(model.sentence(null, '+15550100002'), null);
  model.follow('7 101');  // a new message in the thread
  await new Promise((r) => setTimeout(r, 0));
  equal(calls, 2);
}
