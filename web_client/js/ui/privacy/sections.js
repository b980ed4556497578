/**
 * The sections of the Privacy page, top to bottom. Each is its own module with the
 * contract of ./section.js (`new Section(intents)`, `root`, `update(state)`).
 *
 * Where the other privacy features go: "Take your data with you" (export and import)
 * after StoredSection; "Consent" (terms, recipients' STOP) after AccessSection. They
 * add their module here and their fields to the page's state; nothing else changes.
 */
import { AccessSection } from './access-section.js';
import { DeleteSection } from './delete-section.js';
import { MaskingSection } from './masking-section.js';
import { RetentionSection } from './retention-section.js';
import { StoredSection } from './stored-section.js';

export const PRIVACY_SECTIONS = Object.freeze([
  StoredSection,
  // ← export and import of your data
  MaskingSection,
  RetentionSection,
  AccessSection,
  // ← consent
  DeleteSection,
]);
