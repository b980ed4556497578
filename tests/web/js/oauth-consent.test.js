import { ConsentModel } from '/static/js/domain/oauth-consent.js';
import { equal } from './assert.js';

const REQUEST = {
  client: { name: 'App' },
  redirect_host: 'https://app.example',
  scopes: [{ scope: 'messages:read' }, { scope: 'messages:send' }],
  conversations: [{ id: 5, title: 'A', peer: '+1' }, { id: 9, title: 'B', peer: '+2' }],
};

function model(posted) {
  const http = {
    async request(method, path, body) {
      if (path === '/api/v1/me') return { account: { phone_verified: true } };
      if (method === 'GET') return REQUEST;
      posted.push(body);
      return { redirect_to: 'https://app.example/cb?code=x' };
    },
  };
  let went = null;
  const m = new ConsentModel({ http, handle: 'h'.repeat(43), navigate: (url) => { went = url; } });
  return { m, went: () => went };
}

export async function test_consent_sends_only_what_is_ticked() {
  const posted = [];
  const { m, went } = model(posted);
  await m.start();
  equal(m.screen, 'ready');
  m.tickScope('messages:send', false);
  m.tickScope('contacts:read', true); // never asked: never sent
  m.limitConversations(true);
  equal(m.canAllow, false); // limited, nothing chosen
  m.chooseConversation(9, true);
  m.setDuration('1h');
  m.setDuration('1y'); // not offered: ignored
  await m.allow();
  equal(posted, [{ decision: 'allow', scopes: ['messages:read'], conversations: [9], duration: '1h' }]);
  equal(went(), 'https://app.example/cb?code=x');
}

export async function test_consent_with_nothing_ticked_sends_nothing() {
  const posted = [];
  const { m } = model(posted);
  await m.start();
  m.tickScope('messages:read', false);
  m.tickScope('messages:send', false);
  await m.allow();
  equal(posted, []);
  await m.deny();
  equal(posted, [{ decision: 'deny' }]);
}
