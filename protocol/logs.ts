/**
 * Log batches (protocol 3): lines of a node's Docker containers and of its
 * systemd journal, shipped like samples through the agent's journal (lane
 * `logs`, dropped before samples when it is full), with a sequence number,
 * and acked by the hub only once they are on its disk.
 *
 * A batch names its sources once (`src`) and each line points at one by its
 * index, so a container's id, image and compose names are not repeated per
 * line. Times are split into whole milliseconds (`t`) and the nanoseconds
 * within them (`n`): Docker and journald give more than a double holds, Loki
 * keeps nanoseconds, and two lines a microsecond apart must stay in order.
 *
 * The hub derives the service name (DESIGN.md "Names people will type") from
 * the source: the `muster.service` label, the compose service, the container
 * name; the unit without `.service`; for journal lines of no unit, the
 * syslog identifier.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Count, EpochMs, List, Pid, Seq, Str } from './bounds.ts';
import { CUT_MARKER, LOG_LIMITS } from './plain.ts';

export { CUT_MARKER, LOG_LIMITS };

/** Levels as Loki's `level` label has them (its own discovery uses the same words). */
export const LogLevel = Type.Union([
  Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('critical'),
]);

/** Where lines come from: a container, or the journal (one source per unit or syslog identifier). */
export const LogSource = Type.Object({
  kind: Type.Union([Type.Literal('docker'), Type.Literal('journal')]),
  /** docker: the container's name; journal: the unit, or the syslog identifier of lines of no unit. */
  name: Str(256),
  /** docker: the full container id. */
  id: Type.Optional(Str(128)),
  /** docker: the image as the container names it. */
  image: Type.Optional(Str(512)),
  /** docker: the `muster.service` label. */
  service: Type.Optional(Str(256)),
  /** docker: the compose project and service labels. */
  project: Type.Optional(Str(256)),
  compose: Type.Optional(Str(256)),
  /** journal: the systemd unit (`_SYSTEMD_UNIT`); absent for the kernel and lines of no unit. */
  unit: Type.Optional(Str(256)),
});

/** One line. */
export const LogLine = Type.Object({
  /** Index of its source in the batch's `src`. */
  s: Count(LOG_LIMITS.sources - 1),
  /** Whole milliseconds since the epoch. */
  t: Type.Integer({ minimum: 0, maximum: 7_258_118_400_000 }),
  /** Nanoseconds within that millisecond. */
  n: Type.Integer({ minimum: 0, maximum: 999_999 }),
  /** The text, without its newline; cut lines end in CUT_MARKER. */
  l: Str(LOG_LIMITS.line + CUT_MARKER.length),
  /** 1 for a container's stderr. */
  e: Type.Optional(Type.Literal(1)),
  /** journal: syslog priority, 0 (emerg) to 7 (debug). */
  p: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 })),
  pid: Type.Optional(Pid()),
  /** The level, when the priority or the line itself says it. */
  v: Type.Optional(LogLevel),
});

/** Lines the agent did not ship since its previous batch, by reason. */
export const LogDrops = Type.Object({
  /** Over a source's rate limit (lines per second or bytes per second). */
  rateLimited: Count(),
  rateLimitedBytes: Count(),
  /** Lines cut at the line limit (shipped, shortened). */
  cut: Count(),
});

/** A batch of lines from one agent. */
export const LogsMessage = Type.Object({
  type: Type.Literal('logs'),
  /** Its place in the agent's sequence (shared with samples, workloads and metrics). */
  seq: Seq(),
  /** When the batch was closed, by the agent's clock. */
  ts: EpochMs(),
  src: List(LogSource, LOG_LIMITS.sources),
  lines: List(LogLine, LOG_LIMITS.lines),
  drops: Type.Optional(LogDrops),
});

/** A logs record before the journal gives it a sequence number. */
export type UnsequencedLogs = Omit<LogsMessage, 'seq'>;

export type LogLevel = Static<typeof LogLevel>;
export type LogSource = Static<typeof LogSource>;
export type LogLine = Static<typeof LogLine>;
export type LogDrops = Static<typeof LogDrops>;
export type LogsMessage = Static<typeof LogsMessage>;
