/** Round avatar: initials for names, a person glyph for bare numbers; colour fixed per peer. */
import { h, icon } from './dom.js';
import { ICONS } from './icons.js';

const COLOURS = 8;

/** @param {string} title @param {string} peer @param {string} [extraClass] */
export function avatar(title, peer, extraClass = '') {
  const el = h('span', { class: `avatar avatar-c${colourIndex(peer)} ${extraClass}`.trim(), 'aria-hidden': 'true' });
  fillAvatar(el, title, peer);
  return el;
}

/** @param {HTMLElement} el @param {string} title @param {string} peer */
export function fillAvatar(el, title, peer) {
  const initial = initials(title);
  if (el.dataset.initial === initial && el.dataset.peer === peer) return;
  el.dataset.initial = initial;
  el.dataset.peer = peer;
  el.className = el.className.replace(/avatar-c\d/, `avatar-c${colourIndex(peer)}`);
  el.replaceChildren(initial ? initial : icon(ICONS.person, 'icon avatar-icon'));
}

/** @param {string} title */
export function initials(title) {
  const letters = title.trim().match(/\p{L}/u);
  return letters ? letters[0].toUpperCase() : '';
}

/** @param {string} peer */
function colourIndex(peer) {
  let hash = 0;
  for (const ch of peer) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return hash % COLOURS;
}
