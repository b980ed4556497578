/**
 * Tiny DOM helpers. Text always goes in through textContent, never innerHTML,
 * so message bodies cannot inject markup.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * @param {string} tag
 * @param {Record<string, any>} [props] `class`, `text`, `on<event>` handlers, otherwise attributes
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child || child === '') el.append(child);
  }
  return el;
}

/**
 * A decorative 24×24 icon; the control around it carries the accessible name.
 * @param {string} pathData SVG path
 * @param {string} [className]
 */
export function icon(pathData, className = 'icon') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', className);
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', pathData);
  svg.append(path);
  return svg;
}

/** Set text only when it differs, so screen readers are not re-notified for nothing. */
export function setText(/** @type {Element} */ el, /** @type {string} */ text) {
  if (el.textContent !== text) el.textContent = text;
}

/** Toggle an attribute; `null`/`false` removes it. */
export function setAttr(/** @type {Element} */ el, /** @type {string} */ name, /** @type {any} */ value) {
  if (value === null || value === false || value === undefined) el.removeAttribute(name);
  else if (el.getAttribute(name) !== String(value === true ? '' : value)) el.setAttribute(name, value === true ? '' : String(value));
}

/**
 * Reorder and refresh keyed children without rebuilding them, so focus and
 * scroll position survive updates. Nodes are only moved when out of place,
 * because moving a focused node blurs it.
 * @template T
 * @param {Element} container
 * @param {T[]} items
 * @param {Map<string, Element>} cache key → element, owned by the caller
 * @param {(item: T) => string} keyOf
 * @param {(item: T) => Element} create
 * @param {(el: Element, item: T) => void} refresh
 */
export function reconcile(container, items, cache, keyOf, create, refresh) {
  const seen = new Set();
  let cursor = container.firstElementChild;
  for (const item of items) {
    const key = keyOf(item);
    seen.add(key);
    let el = cache.get(key);
    if (!el) {
      el = create(item);
      cache.set(key, el);
    }
    refresh(el, item);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const [key, el] of cache) {
    if (!seen.has(key)) {
      el.remove();
      cache.delete(key);
    }
  }
}

let idCounter = 0;
/** Unique ids for label/aria wiring. @param {string} prefix */
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
