/**
 * WebSocket factory. The domain layer sees only this small interface so tests
 * can hand it a fake socket and drive frames by hand.
 *
 * @typedef {object} SocketLike
 * @property {(text: string) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {(() => void) | null} onopen
 * @property {((text: string) => void) | null} onmessage
 * @property {((event: {code: number, reason: string}) => void) | null} onclose
 *
 * @typedef {(path: string) => SocketLike} SocketFactory
 */

/**
 * @param {{location?: Location, WebSocketImpl?: typeof WebSocket}} [options]
 * @returns {SocketFactory}
 */
export function createSocketFactory({ location = globalThis.location, WebSocketImpl = globalThis.WebSocket } = {}) {
  return (path) => {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocketImpl(`${scheme}//${location.host}${path}`);
    /** @type {SocketLike} */
    const socket = {
      send: (text) => {
        if (ws.readyState === WebSocketImpl.OPEN) ws.send(text);
      },
      close: (code, reason) => ws.close(code, reason),
      onopen: null,
      onmessage: null,
      onclose: null,
    };
    ws.addEventListener('open', () => socket.onopen?.());
    ws.addEventListener('message', (event) => {
      // Binary frames are not part of the protocol; ignoring them beats crashing.
      if (typeof event.data === 'string') socket.onmessage?.(event.data);
    });
    ws.addEventListener('close', (event) => socket.onclose?.({ code: event.code, reason: event.reason }));
    return socket;
  };
}
