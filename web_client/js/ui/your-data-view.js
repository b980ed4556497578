/**
 * The "Your data" section of Settings: "Export my data" with its progress and the
 * one download, and "Import" (an SMS Backup & Restore XML file or vCards) with the
 * upload's and the import's progress. It draws from its own model
 * (domain/your-data-model.js), to which it subscribes while mounted.
 */
import { describeExport, describeImport } from '../domain/your-data-model.js';
import { h, icon, setText, uid } from './dom.js';
import { ICONS } from './icons.js';

export class YourDataView {
  /** @type {(() => void)|null} */ #unsubscribe = null;

  /** @param {import('../domain/your-data-model.js').YourDataModel} model */
  constructor(model) {
    this.model = model;
    const headingId = uid('your-data');
    this.exportButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'button button-primary',
      onclick: () => model.startExport() }, 'Export my data'));
    this.exportStatus = h('p', { class: 'settings-item-sub your-data-status', role: 'status', 'data-testid': 'export-status' });
    this.exportProgress = /** @type {HTMLProgressElement} */ (h('progress', { class: 'your-data-progress', 'aria-label': 'Export progress' }));
    this.download = /** @type {HTMLAnchorElement} */ (h('a', { class: 'button button-primary', download: '',
      onclick: () => model.downloadStarted() }, icon(ICONS.down), 'Download'));
    const fileId = uid('import-file');
    this.file = /** @type {HTMLInputElement} */ (h('input', { id: fileId, type: 'file',
      accept: '.xml,.vcf,.vcard,text/xml,application/xml,text/vcard,text/x-vcard' }));
    const lineId = uid('import-line');
    this.line = /** @type {HTMLSelectElement} */ (h('select', { id: lineId,
      onchange: () => model.chooseLine(Number(this.line.value)) }));
    this.lineField = h('div', { class: 'settings-row your-data-line' },
      h('label', { for: lineId, text: 'Import into' }), this.line);
    this.importButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', class: 'button button-quiet',
      onclick: () => this.#import() }, 'Import'));
    this.importStatus = h('p', { class: 'settings-item-sub your-data-status', role: 'status', 'data-testid': 'import-status' });
    this.importProgress = /** @type {HTMLProgressElement} */ (h('progress', { class: 'your-data-progress', 'aria-label': 'Import progress' }));
    this.error = h('p', { class: 'form-status', 'data-kind': 'error', role: 'alert' });
    this.root = h('section', { class: 'settings-section your-data', 'aria-labelledby': headingId },
      h('h3', { id: headingId, class: 'settings-heading' }, icon(ICONS.file, 'icon settings-heading-icon'), h('span', { text: 'Your data' })),
      h('p', { class: 'settings-lede', text: 'Take everything Ferry keeps about you with you: your messages (also as an “SMS Backup & Restore” file a phone can restore), contacts, numbers, phones, settings and security activity, in one ZIP file.' }),
      h('div', { class: 'settings-row' }, this.exportButton, this.download),
      this.exportProgress, this.exportStatus,
      h('p', { class: 'settings-lede', text: 'Import texts from an “SMS Backup & Restore” XML file, or contacts from a vCard (.vcf) file, into one of your numbers. Messages Ferry already has are skipped.' }),
      this.lineField,
      h('div', { class: 'settings-row' }, h('label', { for: fileId, class: 'visually-hidden', text: 'File to import' }), this.file, this.importButton),
      this.importProgress, this.importStatus, this.error);
  }

  /** @param {HTMLElement} parent */
  mount(parent) {
    parent.append(this.root);
    this.#unsubscribe = this.model.subscribe(() => this.update());
    this.update();
    this.model.load();
  }

  update() {
    const m = this.model;
    const exporting = m.busy || m.exportJob?.state === 'running';
    this.exportButton.disabled = exporting;
    const path = m.downloadPath();
    this.download.hidden = path === null;
    if (path) this.download.href = path;
    else this.download.removeAttribute('href');
    showProgress(this.exportProgress, m.exportJob?.state === 'running' ? m.exportJob : null);
    setText(this.exportStatus, describeExport(m.exportJob));
    this.#drawLines();
    const importing = m.upload !== null || m.importJob?.state === 'running';
    this.importButton.disabled = importing;
    this.file.disabled = importing;
    const progress = m.upload ? { done: m.upload.sent, total: m.upload.total }
      : m.importJob?.state === 'running' ? m.importJob : null;
    showProgress(this.importProgress, progress);
    setText(this.importStatus, describeImport(m.importJob, m.upload));
    setText(this.error, m.error ?? '');
  }

  /** A choice of number only for an account with several. */
  #drawLines() {
    const { lines, lineId } = this.model;
    this.lineField.hidden = lines.length < 2;
    const key = JSON.stringify(lines);
    if (this.line.dataset.key !== key) {
      this.line.dataset.key = key;
      this.line.replaceChildren(...lines.map((l) => h('option', { value: String(l.id),
        text: l.label ? `${l.label} · ${l.number}` : l.number })));
    }
    if (lines.length) this.line.value = String(lineId ?? lines[0].id);
  }

  unmount() {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.model.stop();
    this.root.remove();
  }

  #import() {
    const file = this.file.files?.[0];
    if (!file) {
      this.model.error = 'Choose a file to import first.';
      this.update();
      return;
    }
    this.model.startImport(file);
  }
}

/** @param {HTMLProgressElement} bar @param {{done: number, total: number}|null} job */
function showProgress(bar, job) {
  bar.hidden = job === null;
  if (!job) return;
  if (job.total > 0) {
    bar.max = job.total;
    bar.value = Math.min(job.done, job.total);
  } else {
    bar.removeAttribute('value'); // indeterminate until the total is known
  }
}
