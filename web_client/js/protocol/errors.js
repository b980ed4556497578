/**
 * Protocol errors: the server sent something this client cannot trust.
 *
 *   ProtocolError            malformed or out-of-bounds input from the server
 *   └── FrameTooLargeError   a websocket frame beyond MAX_FRAME_CHARS
 */

export class ProtocolError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export class FrameTooLargeError extends ProtocolError {
  /** @param {number} size */
  constructor(size) {
    super(`frame of ${size} characters exceeds the limit`);
    this.name = 'FrameTooLargeError';
  }
}
