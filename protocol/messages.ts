/**
 * The agent <-> hub wire contract: one JSON message per WebSocket frame,
 * discriminated by `type`. Both ends validate every frame against these schemas.
 */
import { Type, type Static } from '@sinclair/typebox';
import { WorkloadsMessage } from './workloads.ts';
import { DeployProgress, DeployRequest, DeployResult } from './deploys.ts';
import { UpgradeRequest, UpgradeResult } from './upgrades.ts';
import { MetricsMessage } from './metrics.ts';
import { LogsMessage } from './logs.ts';
import { Count, Counter, EpochMs, EpochS, List, Seq, Str } from './bounds.ts';

/** A collector that could not run on this host, and why. */
export const Unavailable = Type.Object({ collector: Str(64), reason: Str(1024) });

export const FilesystemFact = Type.Object({
  mountpoint: Str(1024),
  device: Str(1024),
  fstype: Str(64),
  sizeBytes: Counter(),
});

export const AddressFact = Type.Object({
  iface: Str(64),
  family: Type.Union([Type.Literal(4), Type.Literal(6)]),
  address: Str(64),
  mac: Type.Optional(Str(64)),
  internal: Type.Boolean(),
});

/** What a node is: sent in full on every connect and again whenever it changes. */
export const HostFacts = Type.Object({
  hostname: Str(),
  machineId: Str(128),
  os: Type.Object({ id: Str(64), name: Str(), version: Str(), prettyName: Str() }),
  kernel: Str(),
  arch: Str(32),
  platform: Str(64),
  cpu: Type.Object({ model: Str(), cores: Count(65_536) }),
  memoryBytes: Counter(),
  swapBytes: Counter(),
  filesystems: List(FilesystemFact, 256),
  addresses: List(AddressFact, 512),
  /** Seconds since the epoch, like node_boot_time_seconds. */
  bootTime: EpochS(),
  rebootRequired: Type.Boolean(),
  rebootRequiredPackages: List(Str(), 1024),
  agentVersion: Str(64),
  runtime: Str(64),
  labels: Type.Record(Type.String({ maxLength: 63 }), Str(256), { maxProperties: 64 }),
  unavailable: List(Unavailable, 64),
});

export const CpuTimes = Type.Object({
  cpu: Str(16),
  user: Counter(), nice: Counter(), system: Counter(), idle: Counter(),
  iowait: Counter(), irq: Counter(), softirq: Counter(), steal: Counter(),
});

export const MemoryUse = Type.Object({
  totalBytes: Counter(),
  availableBytes: Counter(),
  freeBytes: Counter(),
  buffersBytes: Counter(),
  cachedBytes: Counter(),
  swapTotalBytes: Counter(),
  swapFreeBytes: Counter(),
});

export const FilesystemUse = Type.Object({
  mountpoint: Str(1024),
  device: Str(1024),
  fstype: Str(64),
  sizeBytes: Counter(),
  freeBytes: Counter(),
  availBytes: Counter(),
  files: Counter(),
  filesFree: Counter(),
});

export const NetworkUse = Type.Object({
  iface: Str(64),
  rxBytes: Counter(), txBytes: Counter(),
  rxPackets: Counter(), txPackets: Counter(),
  rxErrors: Counter(), txErrors: Counter(),
  rxDropped: Counter(), txDropped: Counter(),
});

/** Degrees Celsius; -273 is absolute zero, and no sensor a node reads survives 1,000. */
export const Temperature = Type.Object({ sensor: Str(128), celsius: Type.Number({ minimum: -273.15, maximum: 1000 }) });

/** Load averages: runnable tasks, bounded far above any real host. */
const Load = () => Type.Number({ minimum: 0, maximum: 1e7 });

/** One measurement of a node's resource use. Counters stay counters (seconds, bytes since boot). */
export const SampleData = Type.Object({
  cpu: List(CpuTimes, 1024),
  load: Type.Tuple([Load(), Load(), Load()]),
  memory: MemoryUse,
  filesystems: List(FilesystemUse, 256),
  network: List(NetworkUse, 512),
  temperatures: List(Temperature, 256),
  unavailable: List(Unavailable, 64),
});

/** A sample with its place in the agent's sequence. Sequence numbers start at 1 and never skip. */
export const Sample = Type.Object({
  seq: Seq(),
  ts: EpochMs(),
  data: SampleData,
});

/**
 * Records the agent lost, by reason, since its journal began: `overflow`
 * (the journal hit its size bound), `expired` (older than its age bound),
 * `corrupt` (a torn or damaged record found at start), `renumbered`
 * (records given new numbers because the hub was ahead of the journal),
 * `unwritten` (could not be written to disk and did not fit in memory).
 */
export const LostCounts = Type.Object({
  overflow: Count(), expired: Count(), corrupt: Count(), renumbered: Count(), unwritten: Count(),
});

export const JoinAuth = Type.Object({ kind: Type.Literal('join'), token: Str(512) });
export const CredentialAuth = Type.Object({ kind: Type.Literal('credential'), token: Str(512) });

/** What a node may be called: a DNS label's characters plus `_` and `.`, 1 to 63 of them (the hub checks names in URLs against it too). */
export const NODE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';
/** The longest node name. */
export const NODE_NAME_MAX = 63;

/** First frame of every link: who the agent is and how it proves it. Nothing else is accepted before it. */
export const Hello = Type.Object({
  type: Type.Literal('hello'),
  protocol: Count(1_000_000),
  agentVersion: Str(64),
  node: Type.Object({ name: Type.String({ minLength: 1, maxLength: NODE_NAME_MAX, pattern: NODE_NAME_PATTERN }), machineId: Str(128) }),
  auth: Type.Union([JoinAuth, CredentialAuth]),
});

export const FactsMessage = Type.Object({ type: Type.Literal('facts'), facts: HostFacts });

/** One or more samples; more than one when the agent replays its outbox after a reconnect. */
export const SamplesMessage = Type.Object({
  type: Type.Literal('samples'),
  samples: List(Sample, 500),
  /** Records the agent lost (all reasons of `lost` summed; protocol 1: samples dropped from a full outbox). */
  dropped: Count(),
  /** Protocol 2: the same loss by reason. */
  lost: Type.Optional(LostCounts),
});

export const HeartbeatMessage = Type.Object({ type: Type.Literal('heartbeat'), ts: EpochMs() });

/** Every frame an agent may send. */
export const AgentMessage = Type.Union([Hello, FactsMessage, SamplesMessage, HeartbeatMessage, WorkloadsMessage, MetricsMessage, LogsMessage, DeployProgress, DeployResult, UpgradeResult]);

/** The hub's answer to a good hello. `credential` is present only after a join. */
export const Welcome = Type.Object({
  type: Type.Literal('welcome'),
  protocol: Count(1_000_000),
  node: Str(63),
  credential: Type.Optional(Str(512)),
  /** Highest sequence number the hub has durably stored for this node. */
  ackedSeq: Count(),
  heartbeatMs: Count(3_600_000),
});

/** Cumulative: every record up to and including `seq` is on the hub's disk (fsync'd). */
export const Ack = Type.Object({ type: Type.Literal('ack'), seq: Count() });

export const ErrorMessage = Type.Object({ type: Type.Literal('error'), code: Str(64), message: Str(1024) });

/**
 * Protocol 2. The hub stores nothing more from this agent and asks it to
 * stop sending sequenced records (samples, workloads deltas) until `resume`;
 * what is not acked (acks of commits already under way may still come) is
 * sent again after it:
 * its storage failed (disk full, I/O error) or the node spent its write
 * budget. The agent keeps everything in its journal meanwhile.
 */
export const Pause = Type.Object({
  type: Type.Literal('pause'),
  code: Str(64),
  message: Str(1024),
  /** When the hub expects to take records again; the agent waits for `resume` all the same. */
  retryAfterMs: Count(86_400_000),
});

/**
 * Protocol 2. Send again everything after `ackedSeq`, then a full workloads
 * snapshot: what arrived during the pause was not stored, and resent deltas
 * are older than anything the hub saw since.
 */
export const Resume = Type.Object({ type: Type.Literal('resume'), ackedSeq: Count() });

/** Every frame the hub may send. */
export const HubMessage = Type.Union([Welcome, Ack, ErrorMessage, DeployRequest, Pause, Resume, UpgradeRequest]);

export type Unavailable = Static<typeof Unavailable>;
export type FilesystemFact = Static<typeof FilesystemFact>;
export type AddressFact = Static<typeof AddressFact>;
export type HostFacts = Static<typeof HostFacts>;
export type CpuTimes = Static<typeof CpuTimes>;
export type MemoryUse = Static<typeof MemoryUse>;
export type FilesystemUse = Static<typeof FilesystemUse>;
export type NetworkUse = Static<typeof NetworkUse>;
export type Temperature = Static<typeof Temperature>;
export type SampleData = Static<typeof SampleData>;
export type Sample = Static<typeof Sample>;
export type Hello = Static<typeof Hello>;
export type FactsMessage = Static<typeof FactsMessage>;
export type SamplesMessage = Static<typeof SamplesMessage>;
export type HeartbeatMessage = Static<typeof HeartbeatMessage>;
export type AgentMessage = Static<typeof AgentMessage>;
export type Welcome = Static<typeof Welcome>;
export type Ack = Static<typeof Ack>;
export type LostCounts = Static<typeof LostCounts>;
export type Pause = Static<typeof Pause>;
export type Resume = Static<typeof Resume>;
export type ErrorMessage = Static<typeof ErrorMessage>;
export type HubMessage = Static<typeof HubMessage>;
