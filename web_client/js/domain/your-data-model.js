/**
 * "Your data": export everything Ferry keeps (a ZIP, downloaded once) and import an
 * "SMS Backup & Restore" file or vCards. The jobs run on the server; this model starts
 * them, follows their progress by polling `GET /api/v1/data-jobs` while one runs, and
 * says what happened in words. No DOM here; http, uploader and clock are injected.
 *
 * @typedef {{id: number, kind: 'export'|'import', state: string, done: number, total: number,
 *   size: number|null, summary: Record<string, number>|null, error: string|null,
 *   created_at: string, expires_at: string, downloadable: boolean}} DataJob
 * @typedef {(path: string, file: Blob, onProgress: (sent: number, total: number) => void) => Promise<any>} Uploader
 */
import { Observable } from './observable.js';

/** How often a running job is asked about. */
export const POLL_MS = 1000;
/** How long after a download starts the page asks how it went. */
export const DOWNLOAD_SETTLE_MS = 500;
/** Largest file the server takes (it refuses more with 413 anyway). */
export const MAX_IMPORT_BYTES = 1024 * 1024 * 1024;

export class YourDataModel extends Observable {
  /** @type {DataJob|null} */ exportJob = null;
  /** @type {DataJob|null} */ importJob = null;
  /** @type {{sent: number, total: number}|null} */ upload = null;
  /** @type {string|null} */ error = null;
  /** The verified numbers an import may go into (oldest first: the account's own).
   * @type {{id: number, number: string, label: string}[]} */ lines = [];
  /** @type {number|null} */ lineId = null;
  busy = false;
  /** @type {unknown} */ #timer = null;

  /**
   * @param {{http: {request: import('../platform/http.js').Request},
   *   upload: Uploader, clock: import('../platform/clock.js').Clock}} deps
   */
  constructor({ http, upload, clock }) {
    super();
    this.http = http;
    this.uploader = upload;
    this.clock = clock;
  }

  /** The latest export and import of the account (on opening the page). */
  async load() {
    try {
      const { jobs } = await this.http.request('GET', '/api/v1/data-jobs');
      const list = Array.isArray(jobs) ? jobs : [];
      this.exportJob = list.find((j) => j.kind === 'export') ?? null;
      this.importJob = list.find((j) => j.kind === 'import') ?? null;
      if (this.lines.length === 0) await this.#loadLines();
    } catch (err) {
      this.error = messageOf(err);
    }
    this.#schedule();
    this.emitChange();
  }

  async #loadLines() {
    const { lines } = await this.http.request('GET', '/api/v1/lines');
    this.lines = (Array.isArray(lines) ? lines : []).filter((l) => l.verified)
      .map((l) => ({ id: l.id, number: l.number, label: l.label ?? '' }));
  }

  /** Which number an import goes into (null: the first). @param {number|null} id */
  chooseLine(id) {
    this.lineId = id;
    this.emitChange();
  }

  async startExport() {
    this.error = null;
    this.busy = true;
    this.emitChange();
    try {
      this.exportJob = (await this.http.request('POST', '/api/v1/exports')).job;
    } catch (err) {
      this.error = messageOf(err);
    }
    this.busy = false;
    this.#schedule();
    this.emitChange();
  }

  /** Where the ready export downloads from (only in this session, once). */
  downloadPath() {
    const job = this.exportJob;
    return job && job.state === 'ready' && job.downloadable ? `/api/v1/exports/${encodeURIComponent(job.id)}/file` : null;
  }

  /** The browser is taking the download (the server spends it as it starts): show
   * what the server then says, not a guess. */
  downloadStarted() {
    this.clock.setTimeout(() => this.load(), DOWNLOAD_SETTLE_MS);
  }

  /** @param {File} file */
  async startImport(file) {
    this.error = null;
    if (file.size > MAX_IMPORT_BYTES) {
      this.error = 'That file is larger than an import may be (1 GiB).';
      this.emitChange();
      return;
    }
    const format = importFormat(file.name, file.type);
    this.upload = { sent: 0, total: file.size };
    this.emitChange();
    try {
      // The number shown in the picker (the first, until another is chosen).
      const chosen = this.lineId ?? (this.lines.length > 1 ? this.lines[0].id : null);
      const line = chosen === null ? '' : `&line=${encodeURIComponent(chosen)}`;
      const reply = await this.uploader(`/api/v1/imports?format=${format}${line}`, file, (sent, total) => {
        this.upload = { sent, total };
        this.emitChange();
      });
      this.importJob = reply.job;
    } catch (err) {
      this.error = messageOf(err);
    }
    this.upload = null;
    this.#schedule();
    this.emitChange();
  }

  stop() {
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule() {
    const running = [this.exportJob, this.importJob].some((j) => j && j.state === 'running');
    if (!running || this.#timer !== null) return;
    this.#timer = this.clock.setTimeout(async () => {
      this.#timer = null;
      await this.load();
    }, POLL_MS);
  }
}

/** @param {string} name @param {string} type */
export function importFormat(name, type) {
  return /\.vcf$|\.vcard$/i.test(name) || /vcard|directory/i.test(type) ? 'vcard' : 'sms-backup';
}

/** @param {unknown} err */
function messageOf(err) {
  return err instanceof Error && err.message ? err.message : 'Something went wrong.';
}

const count = new Intl.NumberFormat();

/** What the export's state means, in words. @param {DataJob|null} job */
export function describeExport(job) {
  if (!job) return 'Nothing exported yet.';
  switch (job.state) {
    case 'running':
      return job.total ? `Preparing your export: ${count.format(job.done)} of ${count.format(job.total)} messages` : 'Preparing your export…';
    case 'ready':
      if (!job.downloadable) return 'An export is ready in the browser that asked for it; only there can it be downloaded.';
      return `Your export is ready (${sizeText(job.size ?? 0)}). It can be downloaded once, in this browser, until ${new Date(job.expires_at).toLocaleString()}.`;
    case 'downloaded':
      return 'Your export was downloaded and deleted from the server.';
    case 'expired':
      return 'Your last export was not downloaded within a day and was deleted.';
    default:
      return job.error ?? 'The export failed.';
  }
}

/** What the import did, in words. @param {DataJob|null} job @param {{sent: number, total: number}|null} upload */
export function describeImport(job, upload) {
  if (upload) return `Uploading: ${percent(upload.sent, upload.total)}`;
  if (!job) return 'Nothing imported yet.';
  if (job.state === 'running') return job.total ? `Importing: ${percent(job.done, job.total)}` : 'Importing…';
  if (job.state === 'failed') return job.error ?? 'The import failed.';
  const s = job.summary ?? {};
  const parts = [];
  if (s.contacts) parts.push(`${count.format(s.contacts)} contacts added or renamed`);
  if (s.added || !s.contacts) parts.push(`${count.format(s.added ?? 0)} messages added`);
  if (s.already_there) parts.push(`${count.format(s.already_there)} were already here`);
  if (s.refused) parts.push(`${count.format(s.refused)} could not be stored`);
  if (s.drafts_skipped) parts.push(`${count.format(s.drafts_skipped)} drafts skipped`);
  return `Import finished: ${parts.join(', ')}.`;
}

/** @param {number} done @param {number} total */
function percent(done, total) {
  return `${total ? Math.min(100, Math.floor((done / total) * 100)) : 0}%`;
}

/** @param {number} bytes */
function sizeText(bytes) {
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
