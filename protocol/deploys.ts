/**
 * One-shot deploys the hub sends to an agent, and what the agent answers.
 * The hub sends a `deploy` request with an id and a deadline; the agent
 * answers with `deployProgress` frames (image pull, create, start, health...)
 * and one `deployResult`. An agent that already ran a request with the same id
 * answers with the result it recorded then, and runs nothing again.
 */
import { Type, type Static } from '@sinclair/typebox';
import { EpochMs, Str } from './bounds.ts';

/** Docker's rule for container names. */
export const CONTAINER_NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$';
/** A systemd unit name, with its suffix (`nginx.service`). */
export const UNIT_NAME_PATTERN = '^[A-Za-z0-9:_.\\\\@-]{1,250}\\.(service|socket|timer|target|path|mount)$';
/** A job id: what the hub or the caller chose, safe in a path and a log line. */
export const JOB_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
/**
 * A Docker network by name or id: `host`, `bridge`, `none` or a user network.
 * No colon, so `container:OTHER` (another container's network namespace) cannot be asked for.
 */
export const NETWORK_NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$';
/** A Linux capability as `docker run --cap-add` takes it (`NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`). */
export const CAPABILITY_PATTERN = '^[A-Z][A-Z0-9_]{0,63}$';

export const PortMapping = Type.Object({
  containerPort: Type.Integer({ minimum: 1, maximum: 65535 }),
  /** Absent: Docker picks a free host port. */
  hostPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  hostIp: Type.Optional(Str(64)),
  protocol: Type.Union([Type.Literal('tcp'), Type.Literal('udp')]),
});

export const VolumeMount = Type.Object({
  /** A host path (absolute) or a named volume. */
  source: Str(1024),
  target: Str(1024),
  readOnly: Type.Optional(Type.Boolean()),
});

/** A host device given to the container, as `docker run --device HOST[:CONTAINER[:PERMS]]`. */
export const DeviceMapping = Type.Object({
  hostPath: Type.String({ pattern: '^/', maxLength: 1024 }),
  /** Absent: the same path as on the host. */
  containerPath: Type.Optional(Type.String({ pattern: '^/', maxLength: 1024 })),
  /** cgroup permissions: r (read), w (write), m (mknod); absent = rwm, as Docker. */
  permissions: Type.Optional(Type.String({ pattern: '^[rwm]{1,3}$' })),
});

export const RestartPolicy = Type.Union([Type.Literal('no'), Type.Literal('always'), Type.Literal('unless-stopped'), Type.Literal('on-failure')]);

/** What `docker run` would be told. */
export const ContainerSpec = Type.Object({
  image: Type.String({ minLength: 1, maxLength: 512 }),
  name: Type.String({ pattern: CONTAINER_NAME_PATTERN }),
  /** Replaces the image's CMD when present. */
  command: Type.Optional(Type.Array(Str(4096), { maxItems: 256 })),
  env: Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Str(8192), { maxProperties: 256 }),
  ports: Type.Array(PortMapping, { maxItems: 64 }),
  volumes: Type.Array(VolumeMount, { maxItems: 64 }),
  labels: Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Str(4096), { maxProperties: 128 }),
  restart: RestartPolicy,
  /** CPU limit in cores (0.5 = half a core). */
  cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1024 })),
  memoryBytes: Type.Optional(Type.Integer({ minimum: 4 * 1024 * 1024, maximum: 2 ** 53 })),
  /** `linux/arm64`, `linux/amd64`, `linux/arm/v7`. */
  platform: Type.Optional(Str(64)),
  // What follows gives a container power over its node. A hub may send it; the
  // agent refuses it unless its own flags allow it (--allow-privileged, --allow-host-namespaces).
  /** `docker run --privileged`: every capability and every host device. */
  privileged: Type.Optional(Type.Boolean()),
  /** `host` (the node's own network stack) or the name of a Docker network. */
  network: Type.Optional(Type.String({ pattern: NETWORK_NAME_PATTERN })),
  /** `host`: the container sees and can signal every process of the node. */
  pid: Type.Optional(Type.Literal('host')),
  devices: Type.Optional(Type.Array(DeviceMapping, { maxItems: 64 })),
  /** Capabilities added to Docker's default set. */
  capAdd: Type.Optional(Type.Array(Type.String({ pattern: CAPABILITY_PATTERN }), { maxItems: 64 })),
});

export const DeployAction = Type.Union([
  /** Pull (when missing) and start a new container; fails if one with the name exists. */
  Type.Object({ kind: Type.Literal('run'), container: ContainerSpec }),
  /** Pull, start the new container beside the old one, and only when it runs stop and remove the old one. */
  Type.Object({ kind: Type.Literal('replace'), container: ContainerSpec }),
  Type.Object({ kind: Type.Literal('container'), action: Type.Union([Type.Literal('restart'), Type.Literal('stop'), Type.Literal('remove')]), name: Type.String({ pattern: CONTAINER_NAME_PATTERN }) }),
  Type.Object({ kind: Type.Literal('unit'), action: Type.Union([Type.Literal('start'), Type.Literal('stop'), Type.Literal('restart')]), unit: Type.String({ pattern: UNIT_NAME_PATTERN }) }),
]);

/** Hub -> agent: run this once, before `deadline` (ms since the epoch). */
export const DeployRequest = Type.Object({
  type: Type.Literal('deploy'),
  id: Type.String({ pattern: JOB_ID_PATTERN }),
  deadline: EpochMs(),
  action: DeployAction,
});

/** The steps an agent reports; `log` is free text (a pull's layer progress, a health probe). */
export const DeployStep = Type.Union([
  Type.Literal('accepted'), Type.Literal('pull'), Type.Literal('create'), Type.Literal('start'), Type.Literal('health'),
  Type.Literal('stop-old'), Type.Literal('stop'), Type.Literal('restart'), Type.Literal('remove'), Type.Literal('unit'), Type.Literal('log'),
]);

/** Agent -> hub: a step of a running deploy. */
export const DeployProgress = Type.Object({
  type: Type.Literal('deployProgress'),
  id: Type.String({ pattern: JOB_ID_PATTERN }),
  ts: EpochMs(),
  step: DeployStep,
  message: Str(4096),
});

/** Agent -> hub: how a deploy ended. `refused`: the agent would not run it (deploys off, image not allowed, past deadline). */
export const DeployResult = Type.Object({
  type: Type.Literal('deployResult'),
  id: Type.String({ pattern: JOB_ID_PATTERN }),
  ts: EpochMs(),
  outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('refused')]),
  message: Str(4096),
  /** The container the deploy left running, when it started one. */
  containerId: Type.Optional(Str(64)),
});

export type PortMapping = Static<typeof PortMapping>;
export type VolumeMount = Static<typeof VolumeMount>;
export type DeviceMapping = Static<typeof DeviceMapping>;
export type RestartPolicy = Static<typeof RestartPolicy>;
export type ContainerSpec = Static<typeof ContainerSpec>;
export type DeployAction = Static<typeof DeployAction>;
export type DeployRequest = Static<typeof DeployRequest>;
export type DeployStep = Static<typeof DeployStep>;
export type DeployProgress = Static<typeof DeployProgress>;
export type DeployResult = Static<typeof DeployResult>;

export { describeAction } from './plain.ts';
