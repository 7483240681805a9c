/**
 * Alert state and email: every evaluation turns the conditions that hold
 * into alerts going pending -> firing (once a condition held for its rule's
 * `for`) -> resolved, kept in SQLite so a hub restart neither forgets an
 * alert nor sends it again. Emails are grouped per node: after `group_wait`
 * one email says everything firing on the node, again after
 * `repeat_interval` while it still fires, and once when it resolved. A mail
 * server that refuses is retried with backoff; nothing is marked sent until
 * it was accepted.
 */
import type Database from 'better-sqlite3';
import type { Logger } from '../agent-gateway.ts';
import type { AlertsConfig, RuleName } from './config.ts';
import { evaluateRules, type Condition, type FleetView } from './rules.ts';
import { silences as covers, type SilenceStore } from './silences.ts';
import type { AlertmanagerForwarder } from './alertmanager.ts';
import { createDiskTrend } from './disk-trend.ts';
import { isStorageFault } from '../group-commit.ts';

export type AlertState = 'pending' | 'firing' | 'resolved';

/** Nodes evaluated between two looks at the clock. */
const EVAL_CHUNK = 5;
/** Work between two turns of the event loop, at most about this long: acks wait no longer behind alerting. */
const EVAL_SLICE_MS = 4;

/** One alert as stored. */
export interface AlertRecord {
  key: string;
  rule: RuleName;
  node: string | null;
  subject: string;
  severity: 'critical' | 'warning';
  state: AlertState;
  startedAt: number;
  firingAt: number | null;
  resolvedAt: number | null;
  value: number | null;
  threshold: number | null;
  summary: string;
  notifiedFiringAt: number | null;
  notifiedResolvedAt: number | null;
}

/** One email. */
export interface AlertEmail {
  subject: string;
  text: string;
  html: string;
}

/** Sends email; throws when the server did not accept it. */
export interface Mailer {
  /** Sends to `to`, or to the configured recipients when absent. */
  send(mail: AlertEmail, to?: string[]): Promise<void>;
}

export interface AlertEngineDeps {
  db: Database.Database;
  config: AlertsConfig;
  fleet: () => FleetView;
  now: () => number;
  log: Logger;
  /** Absent when no smtp is configured: alerts are kept and shown, not mailed. */
  mailer?: Mailer;
  /** Silences in force hold their alerts' email back. */
  silences?: Pick<SilenceStore, 'active'>;
  /** Where alerts are also posted after every evaluation (Alertmanager). */
  forwarder?: AlertmanagerForwarder;
}

export interface AlertEngineOptions {
  /** First retry after a failed send; doubles up to 5 min (default 5 s). */
  retryMinMs?: number;
  /** Resolved alerts are kept this long for the API (default 7 days). */
  keepResolvedMs?: number;
}

export interface AlertEngine {
  /** Runs the rules now and applies the transitions, in one go (tests). */
  evaluate(): void;
  /**
   * The same in slices of nodes with the event loop free between them: a
   * fleet of thousands of nodes must not hold up the agents' acks (the timer
   * uses this).
   */
  evaluateInSlices(): Promise<void>;
  /** Sends what is due; resolves when every send ended (sent or failed). */
  notify(): Promise<void>;
  /** Current alerts (pending and firing) and recently resolved ones, newest first. */
  list(): AlertRecord[];
  /** Firing alerts by rule, for /metrics. */
  firingByRule(): Map<string, number>;
  /** Failed sends since start, for /metrics. */
  sendFailures(): number;
  /** Posts firing and lately resolved alerts to the forwarder, if any. */
  forward(): Promise<void>;
  /** Failed posts to Alertmanager since start, for /metrics. */
  forwardFailures(): number;
  start(): void;
  close(): Promise<void>;
}

interface Row {
  key: string; rule: RuleName; node: string | null; subject: string; severity: 'critical' | 'warning'; state: AlertState;
  started_at: number; firing_at: number | null; resolved_at: number | null; value: number | null; threshold: number | null; summary: string;
  notified_firing_at: number | null; notified_resolved_at: number | null;
}

const toRecord = (r: Row): AlertRecord => ({
  key: r.key, rule: r.rule, node: r.node, subject: r.subject, severity: r.severity, state: r.state, startedAt: r.started_at,
  firingAt: r.firing_at, resolvedAt: r.resolved_at, value: r.value, threshold: r.threshold, summary: r.summary,
  notifiedFiringAt: r.notified_firing_at, notifiedResolvedAt: r.notified_resolved_at,
});

const RULE_TITLE: Record<RuleName, string> = {
  node_offline: 'node offline', cpu_high: 'CPU high', memory_high: 'memory high', disk_full: 'disk full', temperature_high: 'temperature high',
  reboot_required: 'reboot required', container_failed: 'container failed', container_restarting: 'container restarting',
  unit_failed: 'unit failed', service_down: 'service down', hub_storage: 'hub storage failing',
};

/**
 * Rules about the hub itself. Their alerts live in memory only: the one that
 * matters most, hub_storage, fires precisely when nothing can be written.
 */
const inMemory = (rule: RuleName) => rule === 'hub_storage';

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z'));
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** The email for one group (a node, or the services) of alerts. */
export function composeEmail(kind: 'firing' | 'resolved', group: string, alerts: AlertRecord[], hubUrl: string | undefined): AlertEmail {
  const rules = [...new Set(alerts.map((a) => RULE_TITLE[a.rule]))];
  const where = group === '' ? (alerts.every((a) => inMemory(a.rule)) ? 'the hub' : 'services') : group;
  const subject = `[muster] ${kind === 'firing' ? 'FIRING' : 'RESOLVED'}: ${where}: ${rules.join(', ')}`;
  const lines = alerts.map((a) => {
    const seeIt = inMemory(a.rule) ? 'curl -s HUB/healthz; the hub\'s log' : a.rule === 'service_down' ? `muster where ${a.subject}` : a.rule.startsWith('container') || a.rule === 'unit_failed' ? `muster ps --node ${a.node}` : `muster nodes ${a.node}`;
    return {
      title: `${RULE_TITLE[a.rule]}${a.subject !== a.node ? `: ${a.subject}` : ''}`,
      facts: [
        ['what', a.summary],
        ['where', a.node ?? (inMemory(a.rule) ? 'the hub' : `service ${a.subject}`)],
        ['since', iso(a.firingAt ?? a.startedAt)],
        ...(kind === 'resolved' ? [['resolved', iso(a.resolvedAt)]] : []),
        ...(a.value !== null ? [['value', String(a.value)]] : []),
        ...(a.threshold !== null ? [['threshold', String(a.threshold)]] : []),
        ['severity', a.severity],
        ['see it', `${seeIt}${hubUrl ? `  (hub ${hubUrl})` : ''}`],
      ] as [string, string][],
    };
  });
  const text = [
    `${alerts.length} alert${alerts.length === 1 ? '' : 's'} ${kind === 'firing' ? 'firing' : 'resolved'} on ${where}.`, '',
    ...lines.flatMap((l) => [l.title, ...l.facts.map(([k, v]) => `  ${k.padEnd(10)}${v}`), '']),
    '-- muster',
  ].join('\n');
  const html = `<p>${alerts.length} alert${alerts.length === 1 ? '' : 's'} ${kind === 'firing' ? 'firing' : 'resolved'} on <b>${esc(where)}</b>.</p>\n` +
    lines.map((l) => `<h3>${esc(l.title)}</h3>\n<table>${l.facts.map(([k, v]) => `<tr><th align="left">${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`).join('\n') +
    '\n<p>-- muster</p>\n';
  return { subject, text, html };
}

/** Creates the engine; `start()` runs it on a timer. */
export function createAlertEngine(deps: AlertEngineDeps, opts: AlertEngineOptions = {}): AlertEngine {
  const { db, config, now, log } = deps;
  const everyMs = config.evaluationIntervalMs;
  const retryMin = opts.retryMinMs ?? 5_000;
  const keepResolved = opts.keepResolvedMs ?? 7 * 86_400_000;
  const q = {
    open: db.prepare<[], Row>("SELECT * FROM alerts WHERE state IN ('pending', 'firing')"),
    all: db.prepare<[number], Row>("SELECT * FROM alerts WHERE state != 'resolved' OR resolved_at >= ? ORDER BY coalesce(resolved_at, firing_at, started_at) DESC"),
    toSend: db.prepare<[], Row>(`SELECT * FROM alerts WHERE (state = 'firing') OR (state = 'resolved' AND notified_resolved_at IS NULL)`),
    insert: db.prepare(`INSERT INTO alerts (key, rule, node, subject, severity, state, started_at, firing_at, resolved_at, value, threshold, summary, notified_firing_at, notified_resolved_at)
      VALUES (@key, @rule, @node, @subject, @severity, @state, @startedAt, @firingAt, NULL, @value, @threshold, @summary, NULL, NULL)
      ON CONFLICT (key) DO UPDATE SET state = excluded.state, started_at = excluded.started_at, firing_at = excluded.firing_at, resolved_at = NULL,
        value = excluded.value, threshold = excluded.threshold, summary = excluded.summary, severity = excluded.severity,
        notified_firing_at = NULL, notified_resolved_at = NULL`),
    update: db.prepare('UPDATE alerts SET state = ?, firing_at = ?, value = ?, threshold = ?, summary = ? WHERE key = ?'),
    resolve: db.prepare("UPDATE alerts SET state = 'resolved', resolved_at = ? WHERE key = ?"),
    forget: db.prepare('DELETE FROM alerts WHERE key = ?'),
    prune: db.prepare("DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?"),
    markFiring: db.prepare('UPDATE alerts SET notified_firing_at = ? WHERE key = ?'),
    markResolved: db.prepare('UPDATE alerts SET notified_resolved_at = ? WHERE key = ?'),
  };
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let failures = 0;
  let forwardFailures = 0;
  const trend = createDiskTrend();
  /** Per group: consecutive failures and when to try again. */
  const backoff = new Map<string, { failures: number; next: number }>();
  /** Alerts of the in-memory rules, by key, with the same life as stored ones. */
  const volatile = new Map<string, AlertRecord>();
  /** Whether the last evaluation failed on storage: logged once, not every interval. */
  let storageFailing = false;

  /** Applies the in-memory rules' conditions the way `apply` does for stored alerts. */
  function applyVolatile(conditions: Condition[], t: number): void {
    const holding = new Map(conditions.map((c) => [c.key, c]));
    for (const a of volatile.values()) {
      const c = holding.get(a.key);
      if (a.state === 'resolved') {
        if (c) volatile.delete(a.key); // fires anew below
        else if (t - (a.resolvedAt ?? t) > keepResolved) volatile.delete(a.key);
        continue;
      }
      if (!c) {
        if (a.state === 'pending') volatile.delete(a.key);
        else Object.assign(a, { state: 'resolved', resolvedAt: t });
        continue;
      }
      holding.delete(a.key);
      const fires = a.state === 'firing' || t - a.startedAt >= config.rules[c.rule].forMs;
      Object.assign(a, { state: fires ? 'firing' : 'pending', firingAt: a.firingAt ?? (fires ? t : null), value: c.value, summary: c.summary });
    }
    for (const c of holding.values()) {
      const started = Math.min(t, c.since ?? t);
      const fires = t - started >= config.rules[c.rule].forMs;
      volatile.set(c.key, {
        key: c.key, rule: c.rule, node: c.node, subject: c.subject, severity: c.severity, state: fires ? 'firing' : 'pending', startedAt: started,
        firingAt: fires ? t : null, resolvedAt: null, value: c.value, threshold: c.threshold, summary: c.summary, notifiedFiringAt: null, notifiedResolvedAt: null,
      });
    }
  }

  const apply = db.transaction((conditions: Condition[], t: number, offline: Set<string>) => {
    const holding = new Map(conditions.map((c) => [c.key, c]));
    for (const row of q.open.all()) {
      const c = holding.get(row.key);
      // What an offline node last reported stays as it was: its disk is not "resolved" because it went quiet.
      if (!c && row.rule !== 'node_offline' && row.node !== null && offline.has(row.node)) continue;
      if (!c) {
        // Gone before it fired: nobody needs to hear of it.
        if (row.state === 'pending') q.forget.run(row.key);
        else q.resolve.run(t, row.key);
        continue;
      }
      holding.delete(row.key);
      const fires = row.state === 'firing' || t - row.started_at >= config.rules[c.rule].forMs;
      q.update.run(fires ? 'firing' : 'pending', row.firing_at ?? (fires ? t : null), c.value, c.threshold, c.summary, row.key);
    }
    for (const c of holding.values()) {
      const started = Math.min(t, c.since ?? t);
      const fires = t - started >= config.rules[c.rule].forMs;
      q.insert.run({ key: c.key, rule: c.rule, node: c.node, subject: c.subject, severity: c.severity, state: fires ? 'firing' : 'pending', startedAt: started, firingAt: fires ? t : null, value: c.value, threshold: c.threshold, summary: c.summary });
    }
    q.prune.run(t - keepResolved);
  });

  /** Who hears of an alert: every route that matches it, or the default recipients. */
  function recipientsOf(a: AlertRecord, labels: Map<string, Record<string, string>>): string[] {
    const to = new Set<string>();
    for (const r of config.routes) {
      if (r.rules.length && !r.rules.includes(a.rule)) continue;
      if (r.services.length && !(a.rule === 'service_down' && r.services.includes(a.subject))) continue;
      const nodeLabels = a.node === null ? undefined : labels.get(a.node);
      if (Object.keys(r.nodes).length && (!nodeLabels || !Object.entries(r.nodes).every(([k, v]) => nodeLabels[k] === v))) continue;
      for (const x of r.to) to.add(x);
    }
    return [...(to.size ? to : config.smtp?.to ?? [])].sort();
  }

  async function sendGroup(group: string, kind: 'firing' | 'resolved', alerts: AlertRecord[], t: number): Promise<boolean> {
    const b = backoff.get(`${kind}|${group}`);
    if (b && t < b.next) return false;
    const [node, to] = group.split('\u0000') as [string, string];
    const mail = composeEmail(kind, node, alerts, config.hubUrl);
    try {
      await deps.mailer!.send(mail, to.split(','));
      backoff.delete(`${kind}|${group}`);
      log.info({ node: node || 'services', to, kind, alerts: alerts.length }, 'alert email sent');
      return true;
    } catch (err) {
      failures++;
      const n = (b?.failures ?? 0) + 1;
      const wait = Math.min(5 * 60_000, retryMin * 2 ** (n - 1));
      backoff.set(`${kind}|${group}`, { failures: n, next: now() + wait });
      log.warn({ node: node || 'services', to, kind, err: (err as Error).message, retryInMs: wait }, 'alert email not accepted; will retry');
      return false;
    }
  }

  /** Whether `t` falls in the quiet hours (hub local time), when warnings wait. */
  const quiet = (t: number) => {
    const qh = config.quietHours;
    if (!qh) return false;
    const d = new Date(t);
    const m = d.getHours() * 60 + d.getMinutes();
    return qh.start <= qh.end ? m >= qh.start && m < qh.end : m >= qh.start || m < qh.end;
  };

  async function notifyNow(): Promise<void> {
    const t = now();
    const active = deps.silences?.active(t) ?? [];
    const held = (a: AlertRecord) => active.some((s) => covers(s, a)) || (a.severity === 'warning' && quiet(t));
    const firing = new Map<string, AlertRecord[]>();
    const resolved = new Map<string, AlertRecord[]>();
    const labels = new Map(config.routes.length ? deps.fleet().nodes.map((n) => [n.name, n.facts?.labels ?? {}] as const) : []);
    const mark = (a: AlertRecord, kind: 'firing' | 'resolved', at: number) => {
      const v = volatile.get(a.key);
      if (v) {
        if (kind === 'firing') v.notifiedFiringAt = at;
        else v.notifiedResolvedAt = at;
        return;
      }
      (kind === 'firing' ? q.markFiring : q.markResolved).run(at, a.key);
    };
    const toSend = [...q.toSend.all().map(toRecord), ...[...volatile.values()].filter((a) => a.state === 'firing' || (a.state === 'resolved' && a.notifiedResolvedAt === null)).map((a) => ({ ...a }))];
    for (const a of toSend) {
      // One email per node (or the hub itself) and set of recipients.
      const group = `${a.node ?? (inMemory(a.rule) ? '\u0001' : '')}\u0000${recipientsOf(a, labels).join(',')}`;
      if (a.state === 'firing') {
        // A held alert is not mailed and not marked: once the silence or the quiet hours end it is due.
        if (!held(a)) (firing.get(group) ?? firing.set(group, []).get(group)!).push(a);
      } else if (a.notifiedFiringAt === null || !config.sendResolved || !deps.mailer || active.some((s) => covers(s, a))) {
        mark(a, 'resolved', t); // never announced, or silenced: nothing to say
      } else if (!held(a)) {
        (resolved.get(group) ?? resolved.set(group, []).get(group)!).push(a);
      }
    }
    if (!deps.mailer) return;
    for (const [group, alerts] of firing) {
      const due = alerts.some((a) => (a.notifiedFiringAt === null && t - (a.firingAt ?? t) >= config.groupWaitMs)
        || (a.notifiedFiringAt !== null && t - a.notifiedFiringAt >= config.repeatIntervalMs));
      if (!due) continue;
      if (await sendGroup(group, 'firing', alerts, t)) for (const a of alerts) mark(a, 'firing', t);
    }
    for (const [group, alerts] of resolved) {
      if (!alerts.some((a) => t - (a.resolvedAt ?? t) >= config.groupWaitMs)) continue;
      if (await sendGroup(group, 'resolved', alerts, t)) for (const a of alerts) mark(a, 'resolved', t);
    }
  }

  /**
   * One evaluation: node rules a few nodes at a time, yielding whenever
   * `budgetMs` of work has been done since the last yield (a node whose
   * workloads changed costs far more than one whose did not, so a fixed
   * count of nodes made slices of 1 to 50 ms), then the service rules, then
   * the transitions.
   */
  function* evaluation(budgetMs: number): Generator<void, void, void> {
    const t = now();
    const fleet = deps.fleet();
    const conditions: Condition[] = [];
    const nodes = fleet.nodes;
    let sliceStart = performance.now();
    for (let i = 0; i < nodes.length; i += EVAL_CHUNK) {
      if (performance.now() - sliceStart >= budgetMs) {
        yield;
        sliceStart = performance.now();
      }
      const chunk = nodes.slice(i, i + EVAL_CHUNK);
      for (const n of chunk) {
        if (!n.online) continue;
        for (const f of fleet.latest(n.id)?.data.filesystems ?? []) trend.observe(n.name, f.mountpoint, t, Math.max(0, f.sizeBytes - f.freeBytes));
      }
      const { hub: _hub, ...nodesOnly } = fleet;
      conditions.push(...evaluateRules(config, { ...nodesOnly, nodes: chunk, services: () => [], timeToFull: trend.timeToFull }));
      fleet.prepareServices?.(chunk);
    }
    conditions.push(...evaluateRules(config, { ...fleet, nodes: [] }));
    trend.prune(t - 3_600_000);
    applyVolatile(conditions.filter((c) => inMemory(c.rule)), t);
    try {
      apply(conditions.filter((c) => !inMemory(c.rule)), t, new Set(nodes.filter((n) => !n.online).map((n) => n.name)));
      storageFailing = false;
    } catch (err) {
      // The hub_storage alert says so; one log line, not one per interval.
      if (!isStorageFault(err)) throw err;
      if (!storageFailing) log.warn({ err: (err as Error).message }, 'alert states cannot be stored while storage fails; alerts about the hub itself still go out');
      storageFailing = true;
    }
  }

  const engine: AlertEngine = {
    evaluate() {
      for (const _ of evaluation(Number.POSITIVE_INFINITY)) { /* one slice: nothing to wait for */ }
    },
    async evaluateInSlices() {
      for (const _ of evaluation(EVAL_SLICE_MS)) await new Promise<void>((r) => setImmediate(r));
    },
    notify() {
      running = running.then(notifyNow, notifyNow);
      return running;
    },
    list: () => [...[...volatile.values()].map((a) => ({ ...a })), ...q.all.all(now() - keepResolved).map(toRecord)],
    firingByRule() {
      const m = new Map<string, number>();
      for (const r of [...q.open.all(), ...volatile.values()]) if (r.state === 'firing') m.set(r.rule, (m.get(r.rule) ?? 0) + 1);
      return m;
    },
    sendFailures: () => failures,
    forwardFailures: () => forwardFailures,
    async forward() {
      if (!deps.forwarder) return;
      const t = now();
      // Resolved ones for a while after they resolved, so Alertmanager hears of it even across a failed post.
      const due = engine.list().filter((a) => a.state === 'firing' || (a.state === 'resolved' && t - (a.resolvedAt ?? 0) <= 5 * 60_000));
      try {
        await deps.forwarder.push(due);
      } catch (err) {
        forwardFailures++;
        log.warn({ err: (err as Error).message }, 'posting alerts to Alertmanager failed; the next evaluation posts them again');
      }
    },
    start() {
      let busy = false;
      timer ??= setInterval(() => {
        if (busy) return; // an evaluation still in its slices: skip this tick
        busy = true;
        engine.evaluateInSlices()
          .catch((err: unknown) => log.error({ err }, 'alert evaluation failed'))
          .then(() => engine.notify())
          .catch((err: unknown) => log.error({ err }, 'alert notification failed'))
          .then(() => engine.forward())
          .finally(() => { busy = false; });
      }, everyMs);
      timer.unref();
    },
    async close() {
      clearInterval(timer);
      timer = undefined;
      await running.catch(() => undefined);
    },
  };
  return engine;
}
