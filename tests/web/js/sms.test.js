import { count, isGsm7, partLimits } from '/static/js/protocol/sms.js';
import { assert, equal, throws } from './assert.js';

/** The table protocol/sms.py is tested against too (tests/protocol/test_sms.py). */
async function cases() {
  const resp = await fetch('/tests/sms-segments.json');
  assert(resp.ok, `table not served: ${resp.status}`);
  return (await resp.json()).cases;
}

/** @param {string|Array<[string, number]>} text */
function build(text) {
  return typeof text === 'string' ? text : text.map(([piece, times]) => piece.repeat(times)).join('');
}

export async function test_shared_table() {
  const table = await cases();
  assert(table.length >= 30, 'the whole table loaded');
  for (const c of table) {
    const info = count(build(c.text), { refBits: c.ref_bits ?? 8 });
    equal(
      [info.encoding, info.units, info.parts, info.remainingInPart, info.locking, info.single],
      [c.encoding, c.units, c.parts, c.remaining_in_part, c.locking ?? 0, c.single ?? 0],
      c.name,
    );
  }
}

export function test_result_is_frozen() {
  assert(Object.isFrozen(count('hi')), 'immutable');
}

export function test_alphabet_membership() {
  assert(isGsm7('Ça coute 5€ [ok] {x} ~^|\\'), 'extension characters are GSM-7');
  assert(!isGsm7('Ça coûte'), 'û is not');
  assert(!isGsm7('\x1b'), 'ESC itself is not a character');
  assert(isGsm7(''), 'empty text');
}

export function test_lone_surrogate_counts_one_unit() {
  // What a half-typed emoji looks like mid-edit; Python counts it the same way.
  equal(count('a\ud83d'), { encoding: 'ucs2', units: 2, parts: 1, remainingInPart: 68, locking: 0, single: 0 });
}

export function test_limits() {
  equal(partLimits('gsm7'), [160, 153]);
  equal(partLimits('ucs2', 16), [70, 66]);
  equal(partLimits('gsm7', 8, 1), [155, 149]); // one national language table in the header
  equal(partLimits('gsm7', 16, 2), [152, 145]);
  throws(() => partLimits('gsm7', /** @type {any} */ (12)), (e) => e instanceof RangeError);
  throws(() => count('x', { refBits: /** @type {any} */ (7) }), (e) => e instanceof RangeError);
}
