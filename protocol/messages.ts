/**
 * The agent <-> hub wire contract: one JSON message per WebSocket frame,
 * discriminated by `type`. Both ends validate every frame against these schemas.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { WorkloadsMessage } from './workloads.ts';
import { DeployProgress, DeployRequest, DeployResult } from './deploys.ts';

const Str = (max = 256) => Type.String({ maxLength: max });
const Num = () => Type.Number();
const NonNeg = () => Type.Number({ minimum: 0 });
const Count = () => Type.Integer({ minimum: 0 });
const List = <T extends TSchema>(item: T, max = 1024) => Type.Array(item, { maxItems: max });

/** A collector that could not run on this host, and why. */
export const Unavailable = Type.Object({ collector: Str(64), reason: Str(1024) });

export const FilesystemFact = Type.Object({
  mountpoint: Str(1024),
  device: Str(1024),
  fstype: Str(64),
  sizeBytes: NonNeg(),
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
  cpu: Type.Object({ model: Str(), cores: Count() }),
  memoryBytes: NonNeg(),
  swapBytes: NonNeg(),
  filesystems: List(FilesystemFact, 256),
  addresses: List(AddressFact, 512),
  /** Seconds since the epoch, like node_boot_time_seconds. */
  bootTime: NonNeg(),
  rebootRequired: Type.Boolean(),
  rebootRequiredPackages: List(Str(), 1024),
  agentVersion: Str(64),
  runtime: Str(64),
  labels: Type.Record(Type.String({ maxLength: 63 }), Str(256), { maxProperties: 64 }),
  unavailable: List(Unavailable, 64),
});

export const CpuTimes = Type.Object({
  cpu: Str(16),
  user: NonNeg(), nice: NonNeg(), system: NonNeg(), idle: NonNeg(),
  iowait: NonNeg(), irq: NonNeg(), softirq: NonNeg(), steal: NonNeg(),
});

export const MemoryUse = Type.Object({
  totalBytes: NonNeg(),
  availableBytes: NonNeg(),
  freeBytes: NonNeg(),
  buffersBytes: NonNeg(),
  cachedBytes: NonNeg(),
  swapTotalBytes: NonNeg(),
  swapFreeBytes: NonNeg(),
});

export const FilesystemUse = Type.Object({
  mountpoint: Str(1024),
  device: Str(1024),
  fstype: Str(64),
  sizeBytes: NonNeg(),
  freeBytes: NonNeg(),
  availBytes: NonNeg(),
  files: NonNeg(),
  filesFree: NonNeg(),
});

export const NetworkUse = Type.Object({
  iface: Str(64),
  rxBytes: NonNeg(), txBytes: NonNeg(),
  rxPackets: NonNeg(), txPackets: NonNeg(),
  rxErrors: NonNeg(), txErrors: NonNeg(),
  rxDropped: NonNeg(), txDropped: NonNeg(),
});

export const Temperature = Type.Object({ sensor: Str(128), celsius: Num() });

/** One measurement of a node's resource use. Counters stay counters (seconds, bytes since boot). */
export const SampleData = Type.Object({
  cpu: List(CpuTimes, 1024),
  load: Type.Tuple([NonNeg(), NonNeg(), NonNeg()]),
  memory: MemoryUse,
  filesystems: List(FilesystemUse, 256),
  network: List(NetworkUse, 512),
  temperatures: List(Temperature, 256),
  unavailable: List(Unavailable, 64),
});

/** A sample with its place in the agent's sequence. Sequence numbers start at 1 and never skip. */
export const Sample = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  ts: NonNeg(),
  data: SampleData,
});

export const JoinAuth = Type.Object({ kind: Type.Literal('join'), token: Str(512) });
export const CredentialAuth = Type.Object({ kind: Type.Literal('credential'), token: Str(512) });

/** First frame of every link: who the agent is and how it proves it. Nothing else is accepted before it. */
export const Hello = Type.Object({
  type: Type.Literal('hello'),
  protocol: Type.Integer(),
  agentVersion: Str(64),
  node: Type.Object({ name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }), machineId: Str(128) }),
  auth: Type.Union([JoinAuth, CredentialAuth]),
});

export const FactsMessage = Type.Object({ type: Type.Literal('facts'), facts: HostFacts });

/** One or more samples; more than one when the agent replays its outbox after a reconnect. */
export const SamplesMessage = Type.Object({
  type: Type.Literal('samples'),
  samples: List(Sample, 500),
  /** Samples the agent dropped since it started because its outbox was full. */
  dropped: Count(),
});

export const HeartbeatMessage = Type.Object({ type: Type.Literal('heartbeat'), ts: NonNeg() });

/** Every frame an agent may send. */
export const AgentMessage = Type.Union([Hello, FactsMessage, SamplesMessage, HeartbeatMessage, WorkloadsMessage, DeployProgress, DeployResult]);

/** The hub's answer to a good hello. `credential` is present only after a join. */
export const Welcome = Type.Object({
  type: Type.Literal('welcome'),
  protocol: Type.Integer(),
  node: Str(63),
  credential: Type.Optional(Str(512)),
  /** Highest sample sequence number the hub has stored for this node. */
  ackedSeq: Count(),
  heartbeatMs: Count(),
});

/** Cumulative: every sample up to and including `seq` is stored. */
export const Ack = Type.Object({ type: Type.Literal('ack'), seq: Count() });

export const ErrorMessage = Type.Object({ type: Type.Literal('error'), code: Str(64), message: Str(1024) });

/** Every frame the hub may send. */
export const HubMessage = Type.Union([Welcome, Ack, ErrorMessage, DeployRequest]);

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
export type ErrorMessage = Static<typeof ErrorMessage>;
export type HubMessage = Static<typeof HubMessage>;
