/**
 * WebSocket close codes the hub uses to refuse or end an agent link.
 * Agents use them to decide whether reconnecting can help.
 */
export const CloseCode = {
  /** Normal shutdown of the hub or the agent. */
  normal: 1000,
  /** The hub is going away (restart); reconnect with backoff. */
  goingAway: 1001,
  /** A frame larger than MAX_FRAME_BYTES (set by ws itself). */
  tooLarge: 1009,
  /** A frame that is not JSON or fails the protocol schema. */
  badFrame: 4400,
  /** No hello, bad join token or bad credential. */
  unauthorized: 4401,
  /** The node's credential was revoked while connected. */
  revoked: 4403,
  /** The name (or its DNS label) is held by another node, and no admin allowed a replacement. */
  nameTaken: 4409,
  /** The agent speaks a protocol version the hub does not. */
  unsupportedVersion: 4426,
  /** A newer link of the same node replaced this one. */
  replaced: 4000,
} as const;

/** Close codes after which retrying with the same credentials cannot succeed. */
export const FATAL_CLOSE_CODES: readonly number[] = [
  CloseCode.unauthorized, CloseCode.revoked, CloseCode.nameTaken, CloseCode.unsupportedVersion,
  // Another process runs this node with the same state: two agents fighting over one node help nobody.
  CloseCode.replaced,
];
