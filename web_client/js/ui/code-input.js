/**
 * Six one-digit boxes for a verification code. Typing a digit moves on,
 * Backspace on an empty box goes back, arrows move, and pasting (or an SMS
 * autofill into the first box) spreads the digits. Calls onComplete once all
 * six are filled.
 */
import { h, uid } from './dom.js';

export const CODE_LENGTH = 6;

export class CodeInput {
  /** @param {{label: string, onComplete: (code: string) => void, describedBy?: string}} options */
  constructor({ label, onComplete, describedBy }) {
    this.onComplete = onComplete;
    this.labelId = uid('code-label');
    /** @type {HTMLInputElement[]} */
    this.boxes = Array.from({ length: CODE_LENGTH }, (_, i) => /** @type {HTMLInputElement} */ (h('input', {
      type: 'text', inputmode: 'numeric', class: 'code-box', maxlength: i === 0 ? CODE_LENGTH : 1,
      autocomplete: i === 0 ? 'one-time-code' : 'off', 'aria-label': `Digit ${i + 1} of ${CODE_LENGTH}`,
      'aria-describedby': describedBy, pattern: '[0-9]*',
      oninput: () => this.#input(i), onkeydown: (/** @type {KeyboardEvent} */ e) => this.#keydown(e, i),
      onpaste: (/** @type {ClipboardEvent} */ e) => this.#paste(e, i),
      onfocus: () => this.boxes[i].select(),
    })));
    this.root = h('div', { class: 'code-input', role: 'group', 'aria-labelledby': this.labelId },
      h('span', { id: this.labelId, class: 'visually-hidden', text: label }), ...this.boxes);
  }

  get value() {
    return this.boxes.map((b) => b.value).join('');
  }

  clear() {
    for (const box of this.boxes) box.value = '';
    this.boxes[0].focus();
  }

  /** @param {boolean} invalid */
  setInvalid(invalid) {
    for (const box of this.boxes) box.setAttribute('aria-invalid', invalid ? 'true' : 'false');
  }

  /** @param {boolean} disabled */
  setDisabled(disabled) {
    for (const box of this.boxes) box.disabled = disabled;
  }

  focus() {
    (this.boxes.find((b) => !b.value) ?? this.boxes[0]).focus();
  }

  /** @param {number} i */
  #input(i) {
    const digits = this.boxes[i].value.replace(/\D/g, '');
    if (digits.length > 1) {
      this.#spread(digits, i);
      return;
    }
    this.boxes[i].value = digits;
    if (digits && i < CODE_LENGTH - 1) this.boxes[i + 1].focus();
    this.#maybeComplete();
  }

  /** @param {KeyboardEvent} e @param {number} i */
  #keydown(e, i) {
    if (e.key === 'Backspace' && !this.boxes[i].value && i > 0) {
      e.preventDefault();
      this.boxes[i - 1].value = '';
      this.boxes[i - 1].focus();
    } else if (e.key === 'ArrowLeft' && i > 0) {
      e.preventDefault();
      this.boxes[i - 1].focus();
    } else if (e.key === 'ArrowRight' && i < CODE_LENGTH - 1) {
      e.preventDefault();
      this.boxes[i + 1].focus();
    }
  }

  /** @param {ClipboardEvent} e @param {number} i */
  #paste(e, i) {
    const digits = (e.clipboardData?.getData('text') ?? '').replace(/\D/g, '');
    if (!digits) return;
    e.preventDefault();
    this.#spread(digits, digits.length >= CODE_LENGTH ? 0 : i);
  }

  /** @param {string} digits @param {number} from */
  #spread(digits, from) {
    const chars = [...digits.slice(0, CODE_LENGTH - from)];
    chars.forEach((d, k) => { this.boxes[from + k].value = d; });
    this.boxes[Math.min(CODE_LENGTH - 1, from + chars.length)].focus();
    this.#maybeComplete();
  }

  #maybeComplete() {
    const code = this.value;
    if (code.length === CODE_LENGTH) this.onComplete(code);
  }
}
