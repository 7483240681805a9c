/**
 * What counts as an event worth keeping, from the before and after of one
 * workload item: containers started, stopped, died, restarted, removed or
 * unhealthy; units started, stopped or failed; listening sockets opened or
 * closed. Pure functions: the inventory calls them on every change.
 */
import type { ContainerInfo, ListenPort, UnitInfo } from '../protocol/index.ts';
import { containerServiceName, unitServiceName } from './services.ts';

/** An event before it gets a time and a node. */
export interface DerivedEvent {
  kind: string;
  subject: string;
  service: string | null;
  detail: Record<string, unknown>;
}

const RUNNING = new Set(['running', 'restarting', 'paused']);

/** Events between two states of one container (either may be absent: created / removed). */
export function containerEvents(before: ContainerInfo | undefined, after: ContainerInfo | undefined): DerivedEvent[] {
  const c = after ?? before;
  if (!c) return [];
  const base = { subject: c.name, service: containerServiceName(c) };
  const detail = (x: ContainerInfo, extra: Record<string, unknown> = {}) => ({ id: x.id.slice(0, 12), image: x.image, state: x.state, ...extra });
  const out: DerivedEvent[] = [];
  if (!after) {
    out.push({ kind: 'container.removed', ...base, detail: detail(before!) });
    return out;
  }
  const wasRunning = before ? RUNNING.has(before.state) : false;
  const isRunning = RUNNING.has(after.state);
  if (before && after.restartCount > before.restartCount) {
    out.push({ kind: 'container.restarted', ...base, detail: detail(after, { restarts: after.restartCount, exitCode: before.exitCode ?? null }) });
  } else if (!wasRunning && isRunning) {
    out.push({ kind: 'container.started', ...base, detail: detail(after, { ports: after.ports }) });
  } else if (wasRunning && !isRunning) {
    // A container someone stopped is "stopped" even when it ignored SIGTERM and was killed (exit 137).
    const failed = !after.stopRequested && ((after.exitCode ?? 0) !== 0 || after.state === 'dead');
    out.push({ kind: failed ? 'container.died' : 'container.stopped', ...base, detail: detail(after, { exitCode: after.exitCode ?? null }) });
  } else if (!before && !isRunning) {
    out.push({ kind: 'container.created', ...base, detail: detail(after) });
  }
  if (after.health === 'unhealthy' && before?.health !== 'unhealthy') {
    out.push({ kind: 'container.unhealthy', ...base, detail: detail(after, { health: after.health }) });
  }
  return out;
}

/** Events between two states of one unit. */
export function unitEvents(before: UnitInfo | undefined, after: UnitInfo | undefined): DerivedEvent[] {
  const u = after ?? before;
  if (!u || !u.name.endsWith('.service')) return [];
  const prev = before?.activeState ?? 'inactive';
  const next = after?.activeState ?? 'inactive';
  if (prev === next) return [];
  const base = { subject: u.name, service: unitServiceName(u.name) };
  const detail = { from: prev, to: next, subState: after?.subState ?? null, mainPid: after?.mainPid ?? null };
  if (next === 'failed') return [{ kind: 'unit.failed', ...base, detail }];
  if (next === 'active' && prev !== 'reloading') return [{ kind: 'unit.started', ...base, detail }];
  if (next === 'inactive' && prev !== 'failed') return [{ kind: 'unit.stopped', ...base, detail }];
  return [];
}

/** Events for a listening socket that appeared or vanished. `service` is the name its holder is known by. */
export function portEvents(before: ListenPort | undefined, after: ListenPort | undefined, service: string | null): DerivedEvent[] {
  if (before && after) {
    // Same socket, another holder: a restart that rebound it between two readings.
    if (before.pid === after.pid) return [];
  }
  const out: DerivedEvent[] = [];
  const describe = (p: ListenPort) => ({ protocol: p.protocol, address: p.address, port: p.port, pid: p.pid ?? null, process: p.process ?? null });
  const subject = (p: ListenPort) => `${p.protocol} ${p.address.includes(':') ? `[${p.address}]` : p.address}:${p.port}`;
  if (before) out.push({ kind: 'port.closed', subject: subject(before), service, detail: describe(before) });
  if (after) out.push({ kind: 'port.opened', subject: subject(after), service, detail: describe(after) });
  return out;
}
