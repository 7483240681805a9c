/**
 * What runs on a node: processes, Docker containers, systemd units and
 * listening sockets. The agent sends them as a snapshot after every connect
 * and as deltas afterwards (only what changed), in `workloads` frames.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Count, Counter, EpochMs, EpochS, List, MAX_PID, Pid, Seq, Str } from './bounds.ts';
import { MAX_CMDLINE, portKey } from './plain.ts';

export { MAX_CMDLINE, portKey };

const Labels = () => Type.Record(Type.String({ maxLength: 256 }), Str(4096), { maxProperties: 256 });

/** Who owns a process or a socket, from the process's cgroup. */
export const Owner = Type.Object({
  /** Full 64-hex Docker container id, when the process runs in a container. */
  containerId: Type.Optional(Str(64)),
  /** systemd unit (`nginx.service`, `session-3.scope`), when one owns it. */
  unit: Type.Optional(Str(256)),
});

/** One process. Keyed by `pid`; a pid whose `startTime` changed is a new process. */
export const ProcessInfo = Type.Object({
  pid: Pid(),
  ppid: Count(MAX_PID),
  /** The kernel's short name (`comm`), at most 15 characters on Linux. */
  name: Str(64),
  /** The command line, arguments joined by spaces, cut to MAX_CMDLINE. */
  cmdline: Str(MAX_CMDLINE + 1),
  uid: Count(2 ** 32 - 1),
  /** The user name for `uid` from the node's /etc/passwd, or the uid as text. */
  user: Str(64),
  /** Seconds since the epoch. */
  startTime: EpochS(),
  /** utime + stime, in seconds: a counter. */
  cpuSeconds: Counter(),
  rssBytes: Counter(),
  owner: Owner,
});

/** A port a container publishes on its host. */
export const PublishedPort = Type.Object({
  containerPort: Type.Integer({ minimum: 0, maximum: 65535 }),
  protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp'), Type.Literal('sctp')]),
  hostPort: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
  hostIp: Type.Optional(Str(64)),
});

/** One Docker container, keyed by `id`. */
export const ContainerInfo = Type.Object({
  id: Str(64),
  name: Str(256),
  image: Str(512),
  imageId: Str(128),
  /** `repo@sha256:...` from the image's RepoDigests; absent for images built or imported locally. */
  digest: Type.Optional(Str(512)),
  command: Str(MAX_CMDLINE + 1),
  /** Docker's state: created, running, paused, restarting, removing, exited, dead. */
  state: Str(32),
  /** healthy, unhealthy, starting, or none when the image has no health check. */
  health: Str(32),
  exitCode: Type.Optional(Type.Integer({ minimum: -(2 ** 31), maximum: 2 ** 31 - 1 })),
  /** Milliseconds since the epoch; absent when never started / never finished. */
  startedAt: Type.Optional(EpochMs()),
  finishedAt: Type.Optional(EpochMs()),
  restartCount: Count(2 ** 31),
  restartPolicy: Str(64),
  /** True when it stopped because someone asked (docker stop/kill), not by itself: an exit code of 137 then is no crash. */
  stopRequested: Type.Optional(Type.Boolean()),
  /** PID of the container's first process on the host, 0 when not running. */
  pid: Count(MAX_PID),
  ports: List(PublishedPort, 1024),
  labels: Labels(),
  composeProject: Type.Optional(Str(256)),
  composeService: Type.Optional(Str(256)),
});

/** What a running container uses, sent every interval (counters stay counters). */
export const ContainerUse = Type.Object({
  id: Str(64),
  cpuSeconds: Counter(),
  memoryBytes: Counter(),
  /** Memory minus inactive file cache: what cAdvisor calls the working set. */
  workingSetBytes: Counter(),
  memoryLimitBytes: Type.Optional(Counter()),
  rxBytes: Counter(),
  txBytes: Counter(),
});

/** One systemd unit, keyed by `name` (`nginx.service`). */
export const UnitInfo = Type.Object({
  name: Str(256),
  description: Str(1024),
  /** loaded, not-found, masked, error... */
  loadState: Str(32),
  /** active, inactive, failed, activating, deactivating, reloading. */
  activeState: Str(32),
  /** running, exited, dead, failed, auto-restart... */
  subState: Str(32),
  mainPid: Count(MAX_PID),
  memoryBytes: Type.Optional(Counter()),
  restarts: Count(2 ** 31),
  /** When the unit entered its current active state, ms since the epoch. */
  since: Type.Optional(EpochMs()),
});

/** A listening TCP socket or a bound UDP socket, keyed by `protocol address:port`. */
export const ListenPort = Type.Object({
  protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp')]),
  /** The bound address as text: `0.0.0.0`, `::`, `127.0.0.1`. */
  address: Str(64),
  port: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** The process holding it; absent when no visible process holds it (another namespace, no permission). */
  pid: Type.Optional(Pid()),
  process: Type.Optional(Str(64)),
  owner: Owner,
});

/** One batch of each kind. */
export const WorkloadLists = Type.Object({
  processes: List(ProcessInfo, 4096),
  containers: List(ContainerInfo, 1024),
  units: List(UnitInfo, 4096),
  ports: List(ListenPort, 4096),
});

/** Keys of removed items of each kind. */
export const WorkloadKeys = Type.Object({
  processes: List(Pid(), 65536),
  containers: List(Str(64), 4096),
  units: List(Str(256), 65536),
  ports: List(Str(96), 65536),
});

/**
 * The state of each workload collector: `ok`, or why it is unavailable on
 * this node (no Docker socket, systemd not PID 1). Unavailable collectors
 * send empty lists.
 */
export const CollectorStates = Type.Object({
  processes: Type.Optional(Str(1024)),
  containers: Type.Optional(Str(1024)),
  units: Type.Optional(Str(1024)),
  ports: Type.Optional(Str(1024)),
});

/**
 * Workload changes. Frames with `sync` are the parts of a full snapshot
 * (sent after every connect): when the part with `last: true` arrives, the hub
 * forgets whatever the snapshot did not mention. Frames without `sync` are
 * deltas: `upsert` replaces items by key, `remove` drops them.
 */
export const WorkloadsMessage = Type.Object({
  type: Type.Literal('workloads'),
  /**
   * Protocol 2: a delta's place in the agent's sequence (shared with samples).
   * Such deltas come from the agent's journal and are acked like samples,
   * so changes made while the hub was away arrive in order, with their time.
   */
  seq: Type.Optional(Seq()),
  ts: EpochMs(),
  sync: Type.Optional(Type.Object({ id: Count(), part: Count(100_000), last: Type.Boolean() })),
  upsert: WorkloadLists,
  remove: WorkloadKeys,
  use: List(ContainerUse, 1024),
  /** Present when a collector's state changed (and in every snapshot): `ok` or the reason it is unavailable. */
  collectors: Type.Optional(CollectorStates),
});


export type Owner = Static<typeof Owner>;
export type ProcessInfo = Static<typeof ProcessInfo>;
export type PublishedPort = Static<typeof PublishedPort>;
export type ContainerInfo = Static<typeof ContainerInfo>;
export type ContainerUse = Static<typeof ContainerUse>;
export type UnitInfo = Static<typeof UnitInfo>;
export type ListenPort = Static<typeof ListenPort>;
export type WorkloadLists = Static<typeof WorkloadLists>;
export type WorkloadKeys = Static<typeof WorkloadKeys>;
export type CollectorStates = Static<typeof CollectorStates>;
export type WorkloadsMessage = Static<typeof WorkloadsMessage>;
