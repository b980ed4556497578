/** Minimal assertions for in-browser module tests. */
export function assert(condition, message = 'assertion failed') {
  if (!condition) throw new Error(message);
}

export function equal(actual, expected, message = '') {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message} expected ${e}, got ${a}`.trim());
}

export async function rejects(promiseOrFn, check = () => true, message = 'expected a rejection') {
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn);
  } catch (err) {
    if (!check(err)) throw new Error(`${message}: wrong error ${err}`);
    return;
  }
  throw new Error(message);
}

export function throws(fn, check = () => true, message = 'expected an exception') {
  try {
    fn();
  } catch (err) {
    if (!check(err)) throw new Error(`${message}: wrong error ${err}`);
    return;
  }
  throw new Error(message);
}

/** Let pending promise callbacks run. */
export async function flush() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}
