/** Composition root of /settings/apps (connected apps and developer apps). */
import { AppsModel } from './domain/apps-model.js';
import { createHttp } from './platform/http.js';
import { AppsView } from './ui/apps-view.js';

const model = new AppsModel({ http: createHttp() });
const view = new AppsView(model);
view.mount(/** @type {HTMLElement} */ (document.getElementById('app')));
model.subscribe(() => view.update());
model.load();
