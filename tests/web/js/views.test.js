/**
 * The thread's views in the page, fed the new wire fields exactly as `parseMessage`
 * accepts them (tests/web/test_truth_ui.py gets them from the real server): a refused
 * message is a notice, not an empty bubble; a failed send shows its sentence and keeps
 * the modem's words one click away, also for old rows with raw AT text and no detail.
 */
import { ConversationStore } from '/static/js/domain/store.js';
import { ThreadModel } from '/static/js/domain/thread-model.js';
import { parseMessage } from '/static/js/protocol/schema.js';
import { MessageListView } from '/static/js/ui/message-list-view.js';
import { assert, equal } from './assert.js';
import { message, thread } from './fakes.js';

const NOW = Date.parse('2026-11-01T12:00:00Z');

function render(messages) {
  const store = new ConversationStore();
  store.applyChanges([], [thread({ title: 'Alice' })]);
  store.applyChanges(messages.map((m) => parseMessage(m)));
  const view = new MessageListView({ retry: () => {}, discard: () => {} });
  const host = document.createElement('div');
  document.body.append(host);
  view.mount(host);
  view.update({ ...new ThreadModel({ api: {}, store, threadId: 1 }).view(NOW), label: 'Messages with Alice' });
  return host;
}

const visible = (el) => Boolean(el) && el.checkVisibility();

export function test_a_refused_message_renders_as_a_notice() {
  const host = render([
    message({ id: 1, body: 'before' }),
    message({ id: 2, body: '', refused: 'too_many_attachments', timestamp: '2026-11-01T11:01:00Z' }),
  ]);
  try {
    const items = [...host.querySelectorAll('.msg')];
    equal(items.length, 2);
    const notice = items[1];
    assert(notice.classList.contains('msg-refused'), 'a notice of its own kind');
    equal(notice.querySelector('.bubble'), null, 'no empty bubble');
    equal(notice.textContent.includes('A message from Alice could not be stored: it has more attachments than Ferry can keep.'), true);
    equal(notice.querySelector('.msg-status'), null);
  } finally {
    host.remove();
  }
}

export function test_a_failed_send_shows_its_sentence_and_the_detail_on_demand() {
  const host = render([
    message({ id: 3, direction: 'out', body: 'hi', status: 'failed', error: 'The modem did not answer in time.',
      error_detail: 'AT+CMGS=42 timed out waiting for the prompt' }),
    message({ id: 4, direction: 'out', body: 'old row', status: 'failed', error: '+CMS ERROR: 38',
      timestamp: '2026-11-01T11:02:00Z' }),
    message({ id: 5, direction: 'out', body: 'plain', status: 'failed', error: 'No phone can send from this line.',
      timestamp: '2026-11-01T11:03:00Z' }),
  ]);
  try {
    const [fresh, old, plain] = host.querySelectorAll('.msg');
    equal(fresh.querySelector('.msg-error').textContent, 'The modem did not answer in time.');
    const details = fresh.querySelector('details');
    assert(visible(details.querySelector('summary')), 'a "Details" control');
    assert(!visible(details.querySelector('code')), 'the modem\'s words wait for a click');
    details.querySelector('summary').click();
    assert(visible(details.querySelector('code')));
    equal(details.querySelector('code').textContent, 'AT+CMGS=42 timed out waiting for the prompt');

    equal(old.querySelector('.msg-error').textContent, 'The phone couldn’t send this message.');
    equal(old.querySelector('details code').textContent, '+CMS ERROR: 38');
    assert(!old.querySelector('details').hidden);

    equal(plain.querySelector('.msg-error').textContent, 'No phone can send from this line.');
    assert(plain.querySelector('details').hidden, 'no detail, no disclosure');
  } finally {
    host.remove();
  }
}
