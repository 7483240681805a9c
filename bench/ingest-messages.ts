/**
 * The IPC conversation between bench/hub-ingest.ts and the simulator process
 * it starts (bench/ingest-simulator.ts). One step at a time: the bench sends
 * a command and waits for the simulator's answer before the next one.
 */

/** Bench -> simulator. */
export type SimulatorCommand =
  /**
   * Connect `agents` simulated agents, each joining with `token`; `deflate` deflates frames above 1 KiB and
   * `workloads` sends workloads frames, both as the real agent does; `logLinesPerSecond` (default 0) has each
   * agent send a `logs` batch of that many lines every second, as the agent's log collector does. Answered by `joined`.
   */
  | { type: 'join'; url: string; caFile: string; token: string; agents: number; intervalMs: number; concurrency: number; deflate: boolean; workloads: boolean; logLinesPerSecond?: number }
  /** Start sampling, the agents' first samples spread evenly over one interval. Answered by `started`. */
  | { type: 'start' }
  /** Count from now on. Answered by `measuring`. */
  | { type: 'measure' }
  /** Stop counting, wait for the acks of samples sent while counting, and report. Answered by `report`. */
  | { type: 'report' }
  /** Close every link and exit. */
  | { type: 'stop' };

/** What the simulator counted over the measurement window. */
export interface SimulatorReport {
  /** Samples sent while counting. */
  sent: number;
  /** Of those, samples whose ack came back. */
  acked: number;
  /** One entry per sample acked: when it was sent (ms after counting began) and its ack latency (ms, send to matching ack). */
  acks: [sentAtMs: number, latencyMs: number][];
  /** Links that closed after joining, and error frames from the hub, since the join. */
  linksClosed: number;
  hubErrors: number;
  /** Agents with a live, welcomed link at the end. */
  linksOpen: number;
  /** Mean size of a samples frame before compression, in bytes. */
  meanFrameBytes: number;
  /** Mean bytes of workloads deltas sent per sample (0 when off), before compression. */
  meanWorkloadsBytes: number;
  /** Log lines sent while counting, and of those, lines whose batch was acked (0 without logs). */
  logLinesSent: number;
  logLinesAcked: number;
  /** Mean size of a logs frame before compression, in bytes (0 without logs). */
  meanLogsFrameBytes: number;
  /** p99 of the simulator's own event-loop delay while counting: its share of the ack latency. */
  loopDelayP99Ms: number | undefined;
}

/** Simulator -> bench. */
export type SimulatorEvent =
  | { type: 'joined'; agents: number; ms: number }
  | { type: 'started' }
  | { type: 'measuring' }
  | { type: 'report'; report: SimulatorReport }
  | { type: 'fatal'; message: string };
