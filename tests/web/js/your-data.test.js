import { describeExport, describeImport, importFormat, POLL_MS, YourDataModel } from '/static/js/domain/your-data-model.js';
import { equal, flush } from './assert.js';
import { FakeClock } from './fakes.js';

function job(fields = {}) {
  return { id: 1, kind: 'export', state: 'running', done: 0, total: 0, size: null, summary: null, error: null,
    created_at: '2026-11-01T12:00:00Z', expires_at: '2026-11-02T12:00:00Z', ...fields };
}

export async function test_an_export_is_followed_until_ready_then_polling_stops() {
  const clock = new FakeClock();
  const answers = [
    job({ done: 200, total: 1000 }),
    job({ state: 'ready', done: 1000, total: 1000, size: 3 * 1024 * 1024, downloadable: true }),
  ];
  const calls = [];
  const http = { request: async (method, path) => {
    calls.push(`${method} ${path}`);
    if (method === 'POST') return { job: job() };
    if (path === '/api/v1/lines') return { lines: [{ id: 1, number: '+15550100001', verified: true }] };
    return { jobs: [answers.shift()] };
  } };
  const model = new YourDataModel({ http, clock, upload: async () => ({}) });
  await model.startExport();
  equal(describeExport(model.exportJob), 'Preparing your export…');
  equal(model.downloadPath(), null);
  clock.advance(POLL_MS);
  await flush();
  equal(describeExport(model.exportJob), 'Preparing your export: 200 of 1,000 messages');
  clock.advance(POLL_MS);
  await flush();
  equal(model.exportJob.state, 'ready');
  equal(model.downloadPath(), '/api/v1/exports/1/file');
  equal(clock.pending(), [], 'no more polling once nothing runs');
  model.exportJob = { ...model.exportJob, downloadable: false };
  equal(model.downloadPath(), null, 'another session\'s export');
  equal(describeExport(model.exportJob), 'An export is ready in the browser that asked for it; only there can it be downloaded.');
  equal(calls, ['POST /api/v1/exports', 'GET /api/v1/data-jobs', 'GET /api/v1/lines', 'GET /api/v1/data-jobs']);
}

export async function test_an_import_reports_the_upload_then_what_it_did() {
  const clock = new FakeClock();
  const seen = [];
  const upload = async (path, file, onProgress) => {
    seen.push(path);
    onProgress(50, 200);
    seen.push(describeImport(null, model.upload));
    return { job: job({ kind: 'import', id: 2 }) };
  };
  const done = job({ kind: 'import', id: 2, state: 'done', summary: { added: 1200, already_there: 3, refused: 1, drafts_skipped: 0, contacts: 0 } });
  const lines = [
    { id: 4, number: '+15550100001', label: '', verified: true },
    { id: 7, number: '+447700900123', label: 'Work', verified: true },
    { id: 9, number: '+33612345678', label: '', verified: false },
  ];
  const http = { request: async (method, path) => (path === '/api/v1/lines' ? { lines } : { jobs: [] }) };
  const model = new YourDataModel({ http, clock, upload });
  await model.load();
  equal(model.lines.map((l) => l.id), [4, 7], 'only verified numbers take imports');
  await model.startImport(new File(['<smses/>'], 'sms-2026.xml', { type: 'text/xml' }));
  equal(seen, ['/api/v1/imports?format=sms-backup&line=4', 'Uploading: 25%']);
  model.chooseLine(7);
  await model.startImport(new File(['BEGIN:VCARD'], 'c.vcf'));
  equal(seen[2], '/api/v1/imports?format=vcard&line=7');
  http.request = async () => ({ jobs: [done] });
  equal(describeImport(model.importJob, model.upload), 'Importing…');
  clock.advance(POLL_MS);
  await flush();
  equal(describeImport(model.importJob, model.upload),
    'Import finished: 1,200 messages added, 3 were already here, 1 could not be stored.');
  equal(importFormat('Contacts.VCF', ''), 'vcard');
  equal(importFormat('backup', 'text/x-vcard'), 'vcard');
  equal(importFormat('sms.xml', 'text/xml'), 'sms-backup');
}

export async function test_a_refused_upload_says_why() {
  const clock = new FakeClock();
  const upload = async () => { throw new Error('The file is larger than an import may be (1 GiB).'); };
  const model = new YourDataModel({ http: { request: async () => ({ jobs: [] }) }, clock, upload });
  await model.startImport(new File(['x'], 'x.xml'));
  equal(model.error, 'The file is larger than an import may be (1 GiB).');
  equal(model.upload, null);
  equal(describeImport(job({ kind: 'import', state: 'failed', error: 'The file is not well-formed XML (line 1: syntax error).' }), null),
    'The file is not well-formed XML (line 1: syntax error).');
}
