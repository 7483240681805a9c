/**
 * What runs on a simulated host, for the ingest bench: processes, listening
 * ports, systemd units and (on the container host) Docker containers, sent the
 * way the real agent sends them (agent/workload-diff.ts): a snapshot after the
 * welcome, then every interval a delta with the processes whose CPU or memory
 * moved, the running containers' use, now and then a process replaced, and
 * once a minute the units whose memory changed (the agent reads systemctl once
 * a minute).
 */
import {
  type ContainerInfo, type ContainerUse, type ListenPort, type ProcessInfo, type UnitInfo, type WorkloadsMessage,
} from '../protocol/index.ts';

/** The workloads of one simulated host and the frames that report them. */
export interface SimulatedWorkloads {
  /** The full state in one sync frame, as after a connect. */
  snapshot(syncId: number, ts: number): WorkloadsMessage;
  /** What changed over one interval of `elapsedSeconds`; undefined when nothing did. */
  nextDelta(elapsedSeconds: number, ts: number): WorkloadsMessage | undefined;
}

/** How big a host's workload is; picked by the host's profile. */
export interface WorkloadShape {
  processes: number;
  units: number;
  containers: number;
  ports: number[];
}

/** Share of processes whose CPU or RSS moves in an interval at idle (measured: ~7 of ~17 on a quiet VM). */
const BUSY_SHARE = 0.25;
/** Chance per interval that one process exits and another starts. */
const CHURN = 0.1;
/** The agent reads units at most once per minute. */
const UNITS_EVERY_S = 60;

const DAEMONS = [
  ['systemd', '/sbin/init'], ['systemd-journal', '/lib/systemd/systemd-journald'], ['systemd-udevd', '/lib/systemd/systemd-udevd'],
  ['systemd-network', '/lib/systemd/systemd-networkd'], ['systemd-resolve', '/lib/systemd/systemd-resolved'], ['systemd-logind', '/lib/systemd/systemd-logind'],
  ['cron', '/usr/sbin/cron -f'], ['dbus-daemon', '/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only'],
  ['sshd', 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups'], ['rsyslogd', '/usr/sbin/rsyslogd -n -iNONE'], ['chronyd', '/usr/sbin/chronyd -F 1'],
  ['agetty', '/sbin/agetty -o -p -- \\u --noclear - linux'], ['containerd', '/usr/bin/containerd'], ['dockerd', '/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock'],
  ['node', '/usr/bin/node /usr/local/lib/muster-agent.js --hub http://hub.lan:7070'], ['nginx', 'nginx: worker process'], ['postgres', 'postgres: 15/main: checkpointer'],
  ['bash', '-bash'], ['tmux: server', 'tmux new -s work'], ['python3', '/usr/bin/python3 /opt/homeassistant/bin/hass -c /config'],
] as const;

/** Creates the workloads of simulated host `index`, drawing its variation from `random`. */
export function createSimulatedWorkloads(index: number, shape: WorkloadShape, bootTime: number, random: () => number): SimulatedWorkloads {
  let nextPid = 300 + Math.floor(random() * 500);
  const containers: ContainerInfo[] = Array.from({ length: shape.containers }, (_, i) => container(index, i, bootTime, random));
  const makeProcess = (i: number): ProcessInfo => {
    const [name, cmdline] = DAEMONS[i % DAEMONS.length]!;
    const inContainer = containers.length > 0 && i % 5 === 4 ? containers[i % containers.length] : undefined;
    const pid = nextPid;
    nextPid += 1 + Math.floor(random() * 40);
    return {
      pid, ppid: i === 0 ? 0 : 1, name, cmdline, uid: i % 3 === 0 ? 0 : 1000 + (i % 7), user: i % 3 === 0 ? 'root' : `svc${i % 7}`,
      startTime: bootTime + Math.floor(random() * 3_600), cpuSeconds: Math.round(random() * 50_000) / 100, rssBytes: Math.round(2 + random() * 200) * 1024 * 1024,
      owner: inContainer ? { containerId: inContainer.id } : { unit: `${name.replace(/[^a-z0-9-]/g, '')}.service` },
    };
  };
  const processes: ProcessInfo[] = Array.from({ length: shape.processes }, (_, i) => makeProcess(i));
  const units: UnitInfo[] = Array.from({ length: shape.units }, (_, i) => ({
    name: `${DAEMONS[i % DAEMONS.length]![0].replace(/[^a-z0-9-]/g, '')}${i >= DAEMONS.length ? `-${i}` : ''}.service`,
    description: `Simulated service ${i}`, loadState: 'loaded', activeState: i % 9 === 8 ? 'inactive' : 'active', subState: i % 9 === 8 ? 'dead' : 'running',
    mainPid: processes[i % processes.length]!.pid, memoryBytes: Math.round(1 + random() * 100) * 1024 * 1024, restarts: 0, since: bootTime * 1000 + 5_000,
  }));
  const ports: ListenPort[] = shape.ports.map((port, i) => {
    const p = processes[(i * 3) % processes.length]!;
    return { protocol: 'tcp', address: i % 2 ? '::' : '0.0.0.0', port, pid: p.pid, process: p.name, owner: p.owner };
  });
  const use: ContainerUse[] = containers.map((c) => ({
    id: c.id, cpuSeconds: Math.round(random() * 10_000) / 100, memoryBytes: Math.round(20 + random() * 300) * 1024 * 1024,
    workingSetBytes: Math.round(10 + random() * 200) * 1024 * 1024, memoryLimitBytes: 1024 ** 3, rxBytes: Math.round(random() * 1e9), txBytes: Math.round(random() * 1e8),
  }));
  let sinceUnits = 0;
  let made = processes.length;

  const frame = (upsert: WorkloadsMessage['upsert'], remove: WorkloadsMessage['remove'], ts: number): WorkloadsMessage =>
    ({ type: 'workloads', ts, upsert, remove, use: use.map((u) => ({ ...u })) });

  return {
    snapshot(syncId, ts) {
      return {
        ...frame({ processes: [...processes], containers: [...containers], units: [...units], ports: [...ports] }, { processes: [], containers: [], units: [], ports: [] }, ts),
        sync: { id: syncId, part: 0, last: true },
        collectors: { processes: 'ok', containers: shape.containers ? 'ok' : 'no Docker socket at /var/run/docker.sock', units: 'ok', ports: 'ok' },
      };
    },
    nextDelta(elapsed, ts) {
      const changed: ProcessInfo[] = [];
      for (let i = 0; i < processes.length; i++) {
        if (random() >= BUSY_SHARE) continue;
        const p = processes[i]!;
        processes[i] = { ...p, cpuSeconds: Math.round((p.cpuSeconds + elapsed * random() * 0.02) * 100) / 100, rssBytes: p.rssBytes + Math.round((random() - 0.5) * 64) * 4096 };
        changed.push(processes[i]!);
      }
      const removed: number[] = [];
      if (processes.length > 1 && random() < CHURN) {
        const i = 1 + Math.floor(random() * (processes.length - 1));
        removed.push(processes[i]!.pid);
        processes[i] = makeProcess(made++);
        changed.push(processes[i]!);
      }
      for (const u of use) {
        u.cpuSeconds = Math.round((u.cpuSeconds + elapsed * random() * 0.05) * 100) / 100;
        u.rxBytes += Math.round(elapsed * random() * 20_000);
        u.txBytes += Math.round(elapsed * random() * 5_000);
      }
      const unitChanges: UnitInfo[] = [];
      sinceUnits += elapsed;
      if (sinceUnits >= UNITS_EVERY_S) {
        sinceUnits = 0;
        for (let i = 0; i < units.length; i++) {
          if (random() >= BUSY_SHARE) continue;
          units[i] = { ...units[i]!, memoryBytes: (units[i]!.memoryBytes ?? 0) + Math.round((random() - 0.5) * 64) * 4096 };
          unitChanges.push(units[i]!);
        }
      }
      if (changed.length === 0 && removed.length === 0 && unitChanges.length === 0 && use.length === 0) return undefined;
      return frame({ processes: changed, containers: [], units: unitChanges, ports: [] }, { processes: removed, containers: [], units: [], ports: [] }, ts);
    },
  };
}

/** A running container of a compose project on host `index`. */
function container(index: number, i: number, bootTime: number, random: () => number): ContainerInfo {
  const services = ['web', 'db', 'cache', 'worker', 'proxy', 'grafana', 'prometheus', 'loki'];
  const service = services[i % services.length]!;
  const id = (index.toString(16).padStart(8, '0') + i.toString(16).padStart(4, '0')).padEnd(64, 'c0ffee');
  return {
    id, name: `app-${service}-1`, image: `registry.lan/app/${service}:1.${i}`, imageId: `sha256:${id}`,
    command: `/entrypoint.sh ${service}`, state: 'running', health: i % 2 ? 'healthy' : 'none', startedAt: bootTime * 1000 + Math.floor(random() * 3_600_000),
    restartCount: 0, restartPolicy: 'unless-stopped', pid: 2000 + i, ports: i === 0 ? [{ containerPort: 80, protocol: 'tcp', hostPort: 8080, hostIp: '0.0.0.0' }] : [],
    labels: { 'com.docker.compose.project': 'app', 'com.docker.compose.service': service }, composeProject: 'app', composeService: service,
  };
}
