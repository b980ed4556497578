/**
 * Composition root: the only module that touches browser globals. It builds
 * the platform services, injects them into the app model, and connects the
 * model to the root view, batching redraws to one per animation frame.
 */
import { AppModel } from './domain/app-model.js';
import { FerryApi } from './domain/api.js';
import { createClock } from './platform/clock.js';
import { createHttp } from './platform/http.js';
import { createSocketFactory } from './platform/socket.js';
import { createStorage } from './platform/storage.js';
import { AppView } from './ui/app-view.js';

const RELATIVE_TIME_TICK_MS = 30_000;

function main() {
  const clock = createClock();
  const api = new FerryApi(createHttp());
  const model = new AppModel({
    api, clock, socketFactory: createSocketFactory(), storage: createStorage(),
    uuid: () => crypto.randomUUID(),
  });
  const view = new AppView(intentsOf(model));
  view.mount(/** @type {HTMLElement} */ (document.getElementById('app')));

  let scheduled = false;
  const render = () => {
    scheduled = false;
    const state = model.snapshot();
    view.update(state);
    document.title = state.screen === 'main' && state.unreadTotal ? `(${state.unreadTotal}) Ferry` : 'Ferry';
  };
  model.subscribe(() => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(render);
  });
  render();

  addEventListener('online', () => model.sync.setNetworkOnline(true));
  addEventListener('offline', () => model.sync.setNetworkOnline(false));
  document.addEventListener('visibilitychange', () => model.setVisible(document.visibilityState === 'visible'));
  model.setVisible(document.visibilityState === 'visible');
  const tick = () => {
    model.tick();
    clock.setTimeout(tick, RELATIVE_TIME_TICK_MS);
  };
  clock.setTimeout(tick, RELATIVE_TIME_TICK_MS);
  model.start();
}

/** The views only see intents, never the model itself. @param {AppModel} model */
function intentsOf(model) {
  return {
    signIn: (phone, password) => model.signIn(phone, password),
    signOut: () => model.signOut(),
    recheck: () => model.recheck(),
    openThread: (id) => model.openThread(id),
    startNewMessage: () => model.startNewMessage(),
    closePane: () => model.closePane(),
    send: (text) => model.send(text),
    setDraft: (text) => model.setDraft(text),
    setNewRecipient: (text) => model.setNewRecipient(text),
    retry: (id) => model.retry(id),
    discard: (id) => model.discard(id),
    loadOlder: () => model.loadOlder(),
  };
}

main();
