/**
 * The built-in alert rules: each looks at the fleet as it is now and says
 * which conditions hold (a node offline, a disk above its threshold, a unit
 * failed...). Pure: how long a condition must hold, and what was already
 * sent, is the engine's business (hub/alerts/engine.ts).
 */
import type { HostFacts, SampleData } from '../../protocol/index.ts';
import type { NodeWorkloads } from '../inventory.ts';
/** A service as the service_down rule sees it. */
export interface ServiceHealth {
  name: string;
  healthy: number;
  total: number;
  /** A few instances that are not healthy, for the summary. */
  down: { node: string; name: string; state: string }[];
}
import type { AlertsConfig, RuleConfig, RuleName } from './config.ts';

/** What the rules read. */
export interface FleetView {
  nodes: { id: number; name: string; online: boolean; lastSeen: number; facts: HostFacts | null }[];
  latest(nodeId: number): { cpuUsed: number | null; data: SampleData } | undefined;
  workloads(nodeId: number): NodeWorkloads | undefined;
  /** Every service, each with its instances' health (only what service_down reads). */
  services(): ServiceHealth[];
  /** Brings these nodes' part of services() up to date, so the engine can spread that work over slices. */
  prepareServices?(nodes: { id: number; name: string; online: boolean }[]): void;
  /** Time until a filesystem is full at its current rate (hub/alerts/disk-trend.ts); absent: no prediction. */
  timeToFull?(node: string, mountpoint: string, availBytes: number): number | undefined;
  /** The hub's own state, for the hub_* rules; absent: nothing to say about the hub. */
  hub?: { storage: { ok: true } | { ok: false; code: string; message: string; since: number } };
}

/** A condition that holds now. */
export interface Condition {
  /** Stable identity: rule, node and subject. */
  key: string;
  rule: RuleName;
  /** The node it is about; null for a service-wide condition. */
  node: string | null;
  /** What on the node: a mountpoint, a container, a unit, a sensor, or the node itself. */
  subject: string;
  value: number | null;
  threshold: number | null;
  /** One line for people: what, where, the value against the threshold. */
  summary: string;
  severity: RuleConfig['severity'];
  /** When the condition began, when known better than "first seen now" (offline since last seen). */
  since?: number;
}

const round = (v: number) => Math.round(v * 10) / 10;

function matches(labels: Record<string, string>, want: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(want)) if (labels[k] !== v) return false;
  return true;
}

/** Every condition that holds now under the configuration. */
export function evaluateRules(config: AlertsConfig, fleet: FleetView): Condition[] {
  const out: Condition[] = [];
  const on = (rule: RuleName, labels: Record<string, string>) => config.rules[rule].enabled && matches(labels, config.rules[rule].nodes);
  const add = (rule: RuleName, node: string | null, subject: string, value: number | null, summary: string, since?: number) => {
    const r = config.rules[rule];
    out.push({
      key: `${rule}|${node ?? ''}|${subject}`, rule, node, subject, value, threshold: r.threshold || null, summary, severity: r.severity,
      ...(since !== undefined ? { since } : {}),
    });
  };

  for (const n of fleet.nodes) {
    const labels = n.facts?.labels ?? {};
    if (!n.online) {
      if (on('node_offline', labels)) add('node_offline', n.name, n.name, null, `${n.name} is offline: no word from its agent since ${new Date(n.lastSeen).toISOString()}`, n.lastSeen);
      continue; // what an offline node last said is not news
    }
    const latest = fleet.latest(n.id);
    if (latest) {
      const d = latest.data;
      const t = config.rules;
      if (on('cpu_high', labels) && latest.cpuUsed !== null && latest.cpuUsed * 100 > t.cpu_high.threshold) {
        add('cpu_high', n.name, n.name, round(latest.cpuUsed * 100), `CPU on ${n.name} at ${round(latest.cpuUsed * 100)}% (threshold ${t.cpu_high.threshold}%)`);
      }
      const memPct = d.memory.totalBytes > 0 ? ((d.memory.totalBytes - d.memory.availableBytes) / d.memory.totalBytes) * 100 : 0;
      if (on('memory_high', labels) && memPct > t.memory_high.threshold) {
        add('memory_high', n.name, n.name, round(memPct), `memory on ${n.name} at ${round(memPct)}% (threshold ${t.memory_high.threshold}%)`);
      }
      if (on('disk_full', labels)) {
        for (const f of d.filesystems) {
          const used = Math.max(0, f.sizeBytes - f.freeBytes);
          const pct = used + f.availBytes > 0 ? (used / (used + f.availBytes)) * 100 : 0;
          const ttf = t.disk_full.predictMs > 0 ? fleet.timeToFull?.(n.name, f.mountpoint, f.availBytes) : undefined;
          if (pct > t.disk_full.threshold) {
            add('disk_full', n.name, f.mountpoint, round(pct), `filesystem ${f.mountpoint} on ${n.name} at ${round(pct)}% (threshold ${t.disk_full.threshold}%)`);
          } else if (ttf !== undefined && ttf < t.disk_full.predictMs) {
            add('disk_full', n.name, f.mountpoint, round(pct), `filesystem ${f.mountpoint} on ${n.name} at ${round(pct)}% fills up in about ${round(ttf / 3_600_000)} h at the rate of the last hours`);
          }
        }
      }
      if (on('temperature_high', labels)) {
        for (const s of d.temperatures) {
          if (s.celsius > t.temperature_high.threshold) add('temperature_high', n.name, s.sensor, round(s.celsius), `${s.sensor} on ${n.name} at ${round(s.celsius)} °C (threshold ${t.temperature_high.threshold} °C)`);
        }
      }
    }
    if (on('reboot_required', labels) && n.facts?.rebootRequired) add('reboot_required', n.name, n.name, null, `${n.name} needs a reboot for software updates`);
    const w = fleet.workloads(n.id);
    if (w) {
      for (const c of w.containers.values()) {
        if (on('container_failed', labels) && (c.state === 'exited' || c.state === 'dead') && (c.exitCode ?? 0) !== 0 && !c.stopRequested) {
          add('container_failed', n.name, c.name, c.exitCode ?? null, `container ${c.name} on ${n.name} exited with code ${c.exitCode} (image ${c.image})`, c.finishedAt);
        }
        if (on('container_restarting', labels) && (c.state === 'restarting' || (c.health === 'unhealthy' && c.restartCount >= config.rules.container_restarting.threshold))) {
          add('container_restarting', n.name, c.name, c.restartCount, `container ${c.name} on ${n.name} is restarting in a loop (${c.restartCount} restarts)`);
        }
      }
      if (on('unit_failed', labels)) {
        for (const u of w.units.values()) {
          if (u.activeState === 'failed') add('unit_failed', n.name, u.name, null, `unit ${u.name} on ${n.name} failed (${u.subState})`, u.since);
        }
      }
    }
  }

  const storage = fleet.hub?.storage;
  if (storage && !storage.ok && config.rules.hub_storage.enabled) {
    add('hub_storage', null, 'hub storage', null,
      `the hub's storage fails (${storage.code}: ${storage.message}): it stores nothing and acks nothing; agents keep their data until it works again`, storage.since);
  }

  const sd = config.rules.service_down;
  if (sd.enabled) {
    for (const s of fleet.services()) {
      if (sd.services.length && !sd.services.includes(s.name)) continue;
      if (s.total === 0 || s.healthy > 0) continue;
      add('service_down', null, s.name, 0, `service ${s.name} has no running instance (${s.down.map((i) => `${i.name} on ${i.node}: ${i.state}`).join('; ')}${s.total > s.down.length ? `; ${s.total - s.down.length} more` : ''})`);
    }
  }
  return out;
}
