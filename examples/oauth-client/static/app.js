/**
 * An example third-party Ferry client, in the browser only: authorization code with
 * PKCE (S256), tokens kept in memory (the refresh token in sessionStorage so a reload
 * keeps the connection), the granted conversations, live updates through a one-time
 * socket ticket, and replies. No library, no build step.
 */
const $ = (id) => document.getElementById(id);
const config = await (await fetch('/config.json')).json();
const meta = await (await fetch(`${config.ferry}/.well-known/oauth-authorization-server`)).json();
const redirectUri = `${location.origin}/callback`;
let accessToken = null;

function status(text) {
  $('status').textContent = text;
}

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function signIn() {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(48)));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem('pkce', JSON.stringify({ verifier, state }));
  const url = new URL(meta.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: config.client_id, redirect_uri: redirectUri,
    scope: 'messages:read messages:send', state, code_challenge: challenge, code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
}

/** Back from Ferry: check state and issuer (RFC 9207), trade the code. */
async function finishSignIn(params) {
  history.replaceState(null, '', '/'); // the code leaves the address bar at once
  const saved = JSON.parse(sessionStorage.getItem('pkce') ?? 'null');
  sessionStorage.removeItem('pkce');
  if (params.get('error')) return status(`Ferry said: ${params.get('error_description') ?? params.get('error')}`);
  if (!saved || params.get('state') !== saved.state) return status('The answer does not match the request (state).');
  if (params.get('iss') !== meta.issuer) return status('The answer came from another server (iss).');
  await token({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectUri, code_verifier: saved.verifier });
}

async function token(form) {
  const resp = await fetch(meta.token_endpoint, {
    method: 'POST', body: new URLSearchParams({ client_id: config.client_id, ...form }),
  });
  const body = await resp.json();
  if (!resp.ok) {
    sessionStorage.removeItem('refresh');
    accessToken = null;
    return status(`Not connected (${body.error}).`);
  }
  accessToken = body.access_token;
  sessionStorage.setItem('refresh', body.refresh_token);
  // Access tokens live minutes: refresh a little before the end.
  setTimeout(() => token({ grant_type: 'refresh_token', refresh_token: sessionStorage.getItem('refresh') }),
    Math.max(5, body.expires_in - 30) * 1000);
  await showInbox();
}

async function api(method, path, body) {
  const resp = await fetch(`${config.ferry}${path}`, {
    method,
    headers: { Authorization: `Bearer ${accessToken}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (resp.status === 401) throw new Error('access ended');
  return resp.status === 204 ? null : resp.json();
}

async function showInbox() {
  const { threads } = await api('GET', '/api/v1/threads');
  $('threads').replaceChildren(...threads.map((t) => {
    const li = document.createElement('li');
    li.textContent = `${t.title}: ${t.last_message?.body ?? ''}`;
    li.dataset.thread = String(t.id);
    return li;
  }));
  $('to').replaceChildren(...threads.map((t) => {
    const option = document.createElement('option');
    option.value = t.peer;
    option.textContent = t.title;
    return option;
  }));
  $('inbox').hidden = false;
  $('signin').hidden = true;
  status(`Connected to Ferry: ${threads.length} conversation(s) shared.`);
  await live();
}

/** Live updates: a one-time ticket, sent as a websocket subprotocol (never in the URL). */
async function live() {
  const { ticket } = await api('POST', '/api/v1/oauth/socket-ticket');
  const wsUrl = `${config.ferry.replace(/^http/, 'ws')}/api/v1/oauth/socket`;
  const ws = new WebSocket(wsUrl, ['ferry.v1', `ticket.${ticket}`]);
  ws.onopen = () => status(`${$('status').textContent} Live.`);
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.t !== 'changes') return;
    for (const m of frame.messages) {
      const li = document.createElement('li');
      li.textContent = `${m.direction === 'in' ? 'From' : 'To'} ${m.peer}: ${m.body}`;
      $('live').append(li);
    }
  };
  ws.onclose = (event) => {
    if (event.code === 4401) {
      accessToken = null;
      sessionStorage.removeItem('refresh');
      status('Your access was revoked in Ferry.');
    }
  };
}

$('signin').addEventListener('click', signIn);
$('reply').addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = $('body').value.trim();
  if (!body) return;
  try {
    await api('POST', '/api/v1/messages', { to: $('to').value, body, client_msg_id: crypto.randomUUID() });
    $('body').value = '';
    status('Sent.');
  } catch (err) {
    status(`Not sent: ${err.message}`);
  }
});

const params = new URLSearchParams(location.search);
if (location.pathname === '/callback') await finishSignIn(params);
else if (sessionStorage.getItem('refresh')) await token({ grant_type: 'refresh_token', refresh_token: sessionStorage.getItem('refresh') });
