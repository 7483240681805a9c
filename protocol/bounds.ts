/**
 * Number and size bounds shared by every schema of the wire contract. JSON
 * lets a peer send `1e300` as an integer or a time in the year 275,000; the
 * hub sums, formats and compares what it stores, so every number that crosses
 * the link is bounded here, once, by what a real Linux host can report.
 */
import { Type, type TSchema } from '@sinclair/typebox';

import { MAX_COUNTER, MAX_EPOCH_MS, MAX_EPOCH_S, MAX_PID, MAX_SEQ } from './plain.ts';

export { MAX_COUNTER, MAX_EPOCH_MS, MAX_EPOCH_S, MAX_PID, MAX_SEQ };

/** A string of at most `max` characters. */
export const Str = (max = 256) => Type.String({ maxLength: max });
/** A time in ms since the epoch (a node without a real-time clock may report 1970: the hub judges the window). */
export const EpochMs = () => Type.Number({ minimum: 0, maximum: MAX_EPOCH_MS });
/** A time in seconds since the epoch (boot time, a process's start). */
export const EpochS = () => Type.Number({ minimum: 0, maximum: MAX_EPOCH_S });
/** A non-negative counter or size (bytes, seconds of CPU, packets). */
export const Counter = () => Type.Number({ minimum: 0, maximum: MAX_COUNTER });
/** A non-negative whole number of things (restarts, drops, items). */
export const Count = (max = MAX_SEQ) => Type.Integer({ minimum: 0, maximum: max });
/** A sequence number of a sample, workloads delta or log batch. */
export const Seq = () => Type.Integer({ minimum: 1, maximum: MAX_SEQ });
/** A process id. */
export const Pid = () => Type.Integer({ minimum: 1, maximum: MAX_PID });
/** A list of at most `max` items. */
export const List = <T extends TSchema>(item: T, max: number) => Type.Array(item, { maxItems: max });
