/**
 * Keyboard shortcuts, as data (the help dialog lists them) and as a pure
 * event → action mapping (the root view runs the action). Single-key
 * shortcuts ("/", "?") are ignored while typing in a field.
 */

/** @typedef {'next'|'prev'|'search'|'compose'|'help'|'escape'|'new'} ShortcutAction */

export const SHORTCUTS = Object.freeze([
  { keys: ['Alt + ↓', 'Ctrl + Shift + ]'], action: 'Next conversation' },
  { keys: ['Alt + ↑', 'Ctrl + Shift + ['], action: 'Previous conversation' },
  { keys: ['/', 'Ctrl + K'], action: 'Search messages' },
  { keys: ['Ctrl + Shift + M', 'Esc'], action: 'Go to the message box' },
  { keys: ['Alt + N'], action: 'Start a new conversation' },
  { keys: ['?'], action: 'Show keyboard shortcuts' },
]);

/**
 * @param {{key: string, code?: string, altKey: boolean, ctrlKey: boolean, metaKey: boolean, shiftKey: boolean}} e
 * @param {boolean} typing focus is in a text field
 * @returns {ShortcutAction|null}
 */
export function shortcutFor(e, typing) {
  const ctrl = e.ctrlKey || e.metaKey;
  if (e.altKey && !ctrl && e.key === 'ArrowDown') return 'next';
  if (e.altKey && !ctrl && e.key === 'ArrowUp') return 'prev';
  if (ctrl && e.shiftKey && (e.code === 'BracketRight' || e.key === ']' || e.key === '}')) return 'next';
  if (ctrl && e.shiftKey && (e.code === 'BracketLeft' || e.key === '[' || e.key === '{')) return 'prev';
  if (ctrl && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'k') return 'search';
  if (ctrl && e.shiftKey && e.key.toLowerCase() === 'm') return 'compose';
  if (e.altKey && !ctrl && (e.code === 'KeyN' || e.key.toLowerCase() === 'n')) return 'new';
  if (e.key === 'Escape' && !ctrl && !e.altKey) return 'escape';
  if (typing || ctrl || e.altKey) return null;
  if (e.key === '/') return 'search';
  if (e.key === '?') return 'help';
  return null;
}
