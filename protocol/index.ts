/** The only module both the agent and the hub import. */
export * from './version.ts';
export { MAX_COUNTER, MAX_EPOCH_MS, MAX_EPOCH_S, MAX_PID, MAX_SEQ } from './bounds.ts';
export * from './close-codes.ts';
export * from './messages.ts';
export * from './workloads.ts';
export * from './metrics.ts';
export * from './logs.ts';
export * from './deploys.ts';
export * from './upgrades.ts';
export * from './codec.ts';
export * from './hub-decoder.ts';
export * from './compression.ts';
export * from './redact.ts';
