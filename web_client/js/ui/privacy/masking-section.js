/** Permanent masking of sent texts (the setting; "mask now" is in each conversation). */
import { confirmDialog } from '../dialog.js';
import { h, setText, uid } from '../dom.js';
import { ICONS } from '../icons.js';
import { formStatus, privacySection, showForm } from './section.js';

export class MaskingSection {
  /** @param {Record<string, Function>} intents */
  constructor(intents) {
    this.intents = intents;
    this.toggle = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: uid('mask-sent'),
      onchange: () => this.#changed() }));
    this.state = h('span', { class: 'settings-item-sub' });
    this.status = formStatus();
    this.root = privacySection('Mask sent texts', ICONS.lock,
      'Once your phone reports a text sent, Ferry destroys its content and shows ***** instead, '
      + 'everywhere. This cannot be undone for a masked text. To mask texts already here, use '
      + '“Mask conversation” in a conversation.',
      h('div', { class: 'settings-row' }, this.toggle,
        h('label', { for: this.toggle.id, text: 'Mask each text I send once it is sent' })),
      this.state, this.status);
  }

  async #changed() {
    const on = this.toggle.checked;
    if (on) {
      const ok = await confirmDialog({
        title: 'Mask every text you send?',
        text: 'From now on, the content of each text you send is destroyed once your phone reports it sent. '
          + 'Masked texts can never be shown again, not even to you.',
        confirm: 'Mask sent texts',
      });
      if (!ok) {
        this.toggle.checked = false;
        return;
      }
    }
    this.intents.setMaskSent(on);
  }

  /** @param {import('./section.js').PrivacyState} s */
  update(s) {
    const on = s.privacy?.settings.mask_sent ?? false;
    if (!s.forms.masking?.busy) this.toggle.checked = on;
    this.toggle.disabled = !s.privacy || Boolean(s.forms.masking?.busy);
    setText(this.state, on ? 'On: sent texts are masked.' : 'Off: sent texts are kept as written.');
    showForm(this.status, s.forms.masking);
  }
}
