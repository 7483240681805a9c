/** Wire protocol version spoken by this build. The hub refuses a hello with any other version, with a reason. */
export const PROTOCOL_VERSION = 3;

/**
 * Versions of the agent protocol the hub speaks: the current one and the one
 * before it, so a fleet upgrades node by node. 2 added the journal's
 * sequenced workloads deltas, `lost` counts, and `pause`/`resume`; 3 added
 * `metrics` records (generic metric families, protocol/metrics.ts) and
 * `logs` batches (protocol/logs.ts; a protocol 2 agent sends none).
 */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [2, 3];

/** Path of the agent WebSocket endpoint on the hub. */
export const AGENT_PATH = '/agent/v1';

/** Largest frame the hub accepts from an agent, in bytes (after inflate). */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** The muster release both the agent and the hub report. */
export const MUSTER_VERSION = '0.1.0';
