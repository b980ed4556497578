/**
 * Owns how a message's attachments are shown (pure): images the browser may
 * draw inline (the server serves exactly these types inline), everything else
 * as a download chip with a human size. Bytes come from
 * `GET /api/v1/attachments/{id}` on our own origin, with the session cookie.
 */

import { attachmentUrl, INLINE_IMAGE_TYPES, isInlineImage } from '../protocol/schema.js';

/** Served inline by the server and drawn in the bubble; anything else downloads. */
export { INLINE_IMAGE_TYPES };

/**
 * @typedef {object} AttachmentView
 * @property {string} key
 * @property {'image'|'file'} kind
 * @property {string} url opens (images) or fetches the bytes
 * @property {string} downloadUrl
 * @property {string} name shown name; "Image" or "Attachment" when the sender gave none
 * @property {string} size e.g. "1.2 MB"
 * @property {string} label accessible name of the link
 */

/** @param {number} bytes */
export function humanSize(bytes) {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1).replace(/\.0$/, '') : Math.round(value)} ${units[unit]}`;
}

/** @param {import('../protocol/schema.js').Attachment} a @returns {AttachmentView} */
export function attachmentView(a) {
  const url = attachmentUrl(a.id);
  const image = isInlineImage(a);
  const name = a.name || (image ? 'Image' : 'Attachment');
  const size = humanSize(a.size);
  return {
    key: String(a.id), kind: image ? 'image' : 'file', url, downloadUrl: attachmentUrl(a.id, { download: true }), name, size,
    label: image ? `${name}, open full size` : `Download ${name}, ${size}`,
  };
}
