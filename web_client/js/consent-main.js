/** Composition root of the consent screen (/oauth/consent?request=…). */
import { ConsentModel } from './domain/oauth-consent.js';
import { createHttp } from './platform/http.js';
import { ConsentView } from './ui/consent-view.js';

const handle = new URLSearchParams(location.search).get('request') ?? '';
// The handle names a pending request; keep it out of the history and any later Referer.
history.replaceState(null, '', location.pathname);
const model = new ConsentModel({ http: createHttp(), handle, navigate: (url) => location.assign(url) });
const view = new ConsentView(model);
view.mount(/** @type {HTMLElement} */ (document.getElementById('app')));
model.subscribe(() => view.update());
view.update();
model.start();
