/**
 * Desktop notifications (the Notification API) behind a small interface.
 * Permission may only be requested from a user gesture; the settings button
 * calls `request()` directly from its click handler.
 *
 * @typedef {'default'|'granted'|'denied'|'unsupported'} NotifyPermission
 * @typedef {object} Notifier
 * @property {() => NotifyPermission} permission
 * @property {() => Promise<NotifyPermission>} request
 * @property {(n: {title: string, body: string, tag: string, onClick: () => void}) => void} show
 */

/** @returns {Notifier} */
export function createNotifier(NotificationImpl = globalThis.Notification) {
  const supported = typeof NotificationImpl === 'function';
  return {
    permission: () => (supported ? /** @type {NotifyPermission} */ (NotificationImpl.permission) : 'unsupported'),
    async request() {
      if (!supported) return 'unsupported';
      return /** @type {NotifyPermission} */ (await NotificationImpl.requestPermission());
    },
    show({ title, body, tag, onClick }) {
      if (!supported || NotificationImpl.permission !== 'granted') return;
      const n = new NotificationImpl(title, { body, tag, icon: '/static/img/icon.svg' });
      n.onclick = () => {
        globalThis.focus?.();
        onClick();
        n.close();
      };
    },
  };
}
