/**
 * The alerts configuration: which rules run with which thresholds and
 * durations, where email goes, how it is grouped. Every rule has a built-in
 * default, so a hub with no file still alerts (and shows alerts in the API);
 * a file (`muster hub --alerts FILE`, YAML) overrides and scopes them. The
 * file is validated once at start and every problem in it reported at once;
 * the result is frozen.
 */
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../durations.ts';

/** The built-in rules, by the name the config file uses. */
export const RULE_NAMES = [
  'node_offline', 'cpu_high', 'memory_high', 'disk_full', 'temperature_high', 'reboot_required',
  'container_failed', 'container_restarting', 'unit_failed', 'service_down', 'hub_storage',
] as const;
export type RuleName = typeof RULE_NAMES[number];

/** One rule as configured. */
export interface RuleConfig {
  enabled: boolean;
  /** Percent, °C or restarts, depending on the rule; unused by rules that have none. */
  threshold: number;
  /** How long the condition must hold before the alert fires. */
  forMs: number;
  /** Only nodes with all these labels. */
  nodes: Record<string, string>;
  /** Only these services (service rules). Empty: all. */
  services: string[];
  /** critical alerts are sent during quiet hours; warnings wait. */
  severity: 'critical' | 'warning';
  /** disk_full only: also fire when the trend says the filesystem fills within this long (0: off). */
  predictMs: number;
}

export interface SmtpConfig {
  /** smtp://user@host:587 (STARTTLS when offered) or smtps://user@host:465. */
  url: string;
  from: string;
  to: string[];
  /** The password, from MUSTER_SMTP_PASSWORD or a 0600 file; never logged. */
  password?: string;
}

/** Who hears of which alerts: every route that matches an alert adds its recipients. */
export interface RouteConfig {
  /** Alerts of nodes with all these labels. */
  nodes: Record<string, string>;
  /** service_down alerts of these services. */
  services: string[];
  /** Alerts of these rules. */
  rules: RuleName[];
  to: string[];
}

export interface AlertsConfig {
  smtp?: SmtpConfig;
  /** Alerts no route matches go to smtp.to. */
  routes: RouteConfig[];
  /** How often the rules run. */
  evaluationIntervalMs: number;
  groupWaitMs: number;
  repeatIntervalMs: number;
  sendResolved: boolean;
  /** The hub's URL as people reach it, for the "how to see it" line of an email. */
  hubUrl?: string;
  /** Also post alerts to this Alertmanager (its base URL, http://am:9093). */
  alertmanagerUrl?: string;
  /** Minutes after local midnight: warnings wait from start to end (which may be the next day); critical alerts do not. */
  quietHours?: { start: number; end: number };
  rules: Record<RuleName, RuleConfig>;
}

const DEFAULTS: Record<RuleName, Omit<RuleConfig, 'nodes' | 'services' | 'enabled' | 'predictMs'>> = {
  node_offline: { threshold: 0, forMs: 2 * 60_000, severity: 'critical' },
  cpu_high: { threshold: 90, forMs: 5 * 60_000, severity: 'warning' },
  memory_high: { threshold: 90, forMs: 5 * 60_000, severity: 'warning' },
  disk_full: { threshold: 90, forMs: 5 * 60_000, severity: 'critical' },
  temperature_high: { threshold: 80, forMs: 5 * 60_000, severity: 'warning' },
  reboot_required: { threshold: 0, forMs: 24 * 3_600_000, severity: 'warning' },
  container_failed: { threshold: 0, forMs: 0, severity: 'critical' },
  container_restarting: { threshold: 3, forMs: 0, severity: 'critical' },
  unit_failed: { threshold: 0, forMs: 0, severity: 'critical' },
  service_down: { threshold: 0, forMs: 60_000, severity: 'critical' },
  // The hub's own disk or database failing: ingest has stopped, agents are holding their data.
  hub_storage: { threshold: 0, forMs: 0, severity: 'critical' },
};

/** A configuration file with problems; `problems` lists every one. */
export class AlertsConfigError extends Error {
  readonly code = 'MUSTER_ERR_CONFIG';
  readonly file: string;
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.file = file;
    this.problems = problems;
  }
}

/** The configuration a hub without a file runs with: every rule on, no email. */
export function defaultAlertsConfig(): AlertsConfig {
  return freeze({
    evaluationIntervalMs: 10_000, routes: [], groupWaitMs: 30_000, repeatIntervalMs: 4 * 3_600_000, sendResolved: true,
    rules: Object.fromEntries(RULE_NAMES.map((r) => [r, { enabled: true, nodes: {}, services: [], predictMs: r === 'disk_full' ? 24 * 3_600_000 : 0, ...DEFAULTS[r] }])) as unknown as Record<RuleName, RuleConfig>,
  });
}

function freeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) freeze(v);
    Object.freeze(o);
  }
  return o;
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+$/;

/**
 * Validates a parsed YAML document; `env` gives MUSTER_SMTP_PASSWORD and
 * `readSecret` reads a password file (checking it is not readable by others).
 */
export function parseAlertsConfig(doc: unknown, file: string, env: Record<string, string | undefined>, readSecret: (path: string) => string): AlertsConfig {
  const problems: string[] = [];
  const base = defaultAlertsConfig();
  if (doc === null || doc === undefined) return base;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AlertsConfigError(file, ['the file must hold a mapping (smtp, group_wait, repeat_interval, rules)']);
  const d = doc as Record<string, unknown>;
  const known = ['smtp', 'evaluation_interval', 'group_wait', 'repeat_interval', 'send_resolved', 'hub_url', 'quiet_hours', 'alertmanager', 'routes', 'rules'];
  for (const k of Object.keys(d)) if (!known.includes(k)) problems.push(`unknown key '${k}' (known: ${known.join(', ')})`);
  const duration = (where: string, v: unknown, fallback: number, allowZero = false): number => {
    if (v === undefined) return fallback;
    if (allowZero && (v === 0 || v === '0' || v === '0s')) return 0;
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (!ms) { problems.push(`${where} must be a duration like 30s, 5m or 4h, not ${JSON.stringify(v)}`); return fallback; }
    return ms;
  };
  const evaluationIntervalMs = duration('evaluation_interval', d.evaluation_interval, base.evaluationIntervalMs);
  const groupWaitMs = duration('group_wait', d.group_wait, base.groupWaitMs, true);
  const repeatIntervalMs = duration('repeat_interval', d.repeat_interval, base.repeatIntervalMs);
  let sendResolved = base.sendResolved;
  if (d.send_resolved !== undefined) {
    if (typeof d.send_resolved !== 'boolean') problems.push('send_resolved must be true or false');
    else sendResolved = d.send_resolved;
  }
  let hubUrl: string | undefined;
  if (d.hub_url !== undefined) {
    if (typeof d.hub_url !== 'string' || !/^https?:\/\/\S+$/.test(d.hub_url)) problems.push(`hub_url must be an http(s) URL, not ${JSON.stringify(d.hub_url)}`);
    else hubUrl = d.hub_url;
  }

  const routes: RouteConfig[] = [];
  if (d.routes !== undefined) {
    if (!Array.isArray(d.routes)) problems.push('routes must be a list like [{ nodes: { group: storage }, to: [storage@lab] }]');
    else d.routes.forEach((raw, i) => {
      const r = raw as Record<string, unknown>;
      const where = `routes[${i}]`;
      if (typeof r !== 'object' || r === null || Array.isArray(r)) { problems.push(`${where} must be a mapping`); return; }
      for (const k of Object.keys(r)) if (!['nodes', 'services', 'rules', 'to'].includes(k)) problems.push(`${where}: unknown key '${k}' (known: nodes, services, rules, to)`);
      const to = Array.isArray(r.to) ? r.to : typeof r.to === 'string' ? [r.to] : [];
      if (to.length === 0) problems.push(`${where}.to must list at least one address`);
      for (const a of to) if (typeof a !== 'string' || !EMAIL.test(a)) problems.push(`${where}.to: ${JSON.stringify(a)} is not an email address`);
      const nodes: Record<string, string> = {};
      if (r.nodes !== undefined) {
        if (typeof r.nodes !== 'object' || r.nodes === null || Array.isArray(r.nodes)) problems.push(`${where}.nodes must be a mapping of node labels`);
        else for (const [k, v] of Object.entries(r.nodes)) nodes[k] = String(v);
      }
      const list = (k: 'services' | 'rules') => {
        const v = r[k];
        if (v === undefined) return [];
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) { problems.push(`${where}.${k} must be a list of names`); return []; }
        return v as string[];
      };
      const rules = list('rules');
      for (const x of rules) if (!(RULE_NAMES as readonly string[]).includes(x)) problems.push(`${where}.rules: unknown rule '${x}'`);
      if (r.nodes === undefined && r.services === undefined && r.rules === undefined) problems.push(`${where} matches everything: give nodes, services or rules (or put the addresses in smtp.to)`);
      routes.push({ nodes, services: list('services'), rules: rules as RuleName[], to: to.map(String) });
    });
    if (routes.length && d.smtp === undefined) problems.push('routes need smtp to send with');
  }
  let alertmanagerUrl: string | undefined;
  if (d.alertmanager !== undefined) {
    const am = d.alertmanager as Record<string, unknown>;
    if (typeof am !== 'object' || am === null || typeof am.url !== 'string' || !/^https?:\/\/\S+$/.test(am.url)) problems.push('alertmanager must be { url: "http://alertmanager:9093" }');
    else {
      for (const k of Object.keys(am)) if (k !== 'url') problems.push(`alertmanager: unknown key '${k}' (known: url)`);
      alertmanagerUrl = am.url;
    }
  }
  let quietHours: { start: number; end: number } | undefined;
  if (d.quiet_hours !== undefined) {
    const qh = d.quiet_hours as Record<string, unknown>;
    const hhmm = (k: string) => {
      const m = typeof qh?.[k] === 'string' ? /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(qh[k] as string) : null;
      if (!m) { problems.push(`quiet_hours.${k} must be a time like 22:00, not ${JSON.stringify(qh?.[k])}`); return 0; }
      return Number(m[1]) * 60 + Number(m[2]);
    };
    if (typeof qh !== 'object' || qh === null || Array.isArray(qh)) problems.push('quiet_hours must be a mapping: { start: "22:00", end: "07:00" }');
    else {
      for (const k of Object.keys(qh)) if (k !== 'start' && k !== 'end') problems.push(`quiet_hours: unknown key '${k}' (known: start, end)`);
      quietHours = { start: hhmm('start'), end: hhmm('end') };
      if (quietHours.start === quietHours.end) problems.push('quiet_hours.start and end must differ');
    }
  }

  let smtp: SmtpConfig | undefined;
  if (d.smtp !== undefined) {
    const s = d.smtp as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) problems.push('smtp must be a mapping: { url, from, to }');
    else {
      for (const k of Object.keys(s)) if (!['url', 'from', 'to', 'password_file'].includes(k)) problems.push(`smtp: unknown key '${k}' (known: url, from, to, password_file)`);
      let url = '';
      if (typeof s.url !== 'string') problems.push('smtp.url is required, like smtp://user@mail.lab:587');
      else {
        try {
          const u = new URL(s.url);
          if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') problems.push(`smtp.url must start with smtp:// or smtps://, not ${u.protocol}//`);
          if (u.password) problems.push('smtp.url must not hold the password: set MUSTER_SMTP_PASSWORD or smtp.password_file (a 0600 file)');
          url = s.url;
        } catch {
          problems.push(`smtp.url is not a URL: ${JSON.stringify(s.url)}`);
        }
      }
      if (typeof s.from !== 'string' || !EMAIL.test(s.from)) problems.push(`smtp.from must be an email address, not ${JSON.stringify(s.from)}`);
      const to = Array.isArray(s.to) ? s.to : typeof s.to === 'string' ? [s.to] : [];
      if (to.length === 0) problems.push('smtp.to must list at least one address');
      for (const a of to) if (typeof a !== 'string' || !EMAIL.test(a)) problems.push(`smtp.to: ${JSON.stringify(a)} is not an email address`);
      let password = env.MUSTER_SMTP_PASSWORD;
      if (s.password_file !== undefined) {
        if (typeof s.password_file !== 'string') problems.push('smtp.password_file must be a path');
        else {
          try { password = readSecret(s.password_file); } catch (err) { problems.push(`smtp.password_file: ${(err as Error).message}`); }
        }
      }
      smtp = { url, from: String(s.from), to: to.map(String), ...(password ? { password } : {}) };
    }
  }

  const rules = { ...base.rules } as Record<RuleName, RuleConfig>;
  if (d.rules !== undefined) {
    if (typeof d.rules !== 'object' || d.rules === null || Array.isArray(d.rules)) problems.push('rules must be a mapping of rule name to settings');
    else {
      for (const [name, raw] of Object.entries(d.rules as Record<string, unknown>)) {
        if (!(RULE_NAMES as readonly string[]).includes(name)) { problems.push(`rules: unknown rule '${name}' (known: ${RULE_NAMES.join(', ')})`); continue; }
        const r = raw === null ? {} : raw;
        if (typeof r !== 'object' || Array.isArray(r)) { problems.push(`rules.${name} must be a mapping like { threshold: 90, for: 5m }`); continue; }
        const o = r as Record<string, unknown>;
        const cur = rules[name as RuleName];
        const keys = ['enabled', 'threshold', 'for', 'nodes', 'services', 'severity', ...(name === 'disk_full' ? ['predict'] : [])];
        for (const k of Object.keys(o)) if (!keys.includes(k)) problems.push(`rules.${name}: unknown key '${k}' (known: ${keys.join(', ')})`);
        const next: RuleConfig = { ...cur, nodes: { ...cur.nodes }, services: [...cur.services] };
        if (o.enabled !== undefined) {
          if (typeof o.enabled !== 'boolean') problems.push(`rules.${name}.enabled must be true or false`);
          else next.enabled = o.enabled;
        }
        if (o.threshold !== undefined) {
          const max = name === 'temperature_high' ? 150 : name === 'container_restarting' ? 1000 : 100;
          if (typeof o.threshold !== 'number' || !(o.threshold > 0 && o.threshold <= max)) problems.push(`rules.${name}.threshold must be a number above 0 and at most ${max}, not ${JSON.stringify(o.threshold)}`);
          else next.threshold = o.threshold;
        }
        next.forMs = duration(`rules.${name}.for`, o.for, cur.forMs, true);
        if (name === 'disk_full') next.predictMs = duration('rules.disk_full.predict', o.predict, cur.predictMs, true);
        if (o.nodes !== undefined) {
          if (typeof o.nodes !== 'object' || o.nodes === null || Array.isArray(o.nodes)) problems.push(`rules.${name}.nodes must be a mapping of node labels, like { group: storage }`);
          else for (const [k, v] of Object.entries(o.nodes)) {
            if (typeof v !== 'string' && typeof v !== 'number') problems.push(`rules.${name}.nodes.${k} must be a label value`);
            else next.nodes[k] = String(v);
          }
        }
        if (o.services !== undefined) {
          if (!Array.isArray(o.services) || !o.services.every((x) => typeof x === 'string')) problems.push(`rules.${name}.services must be a list of service names`);
          else next.services = o.services as string[];
        }
        if (o.severity !== undefined) {
          if (o.severity !== 'critical' && o.severity !== 'warning') problems.push(`rules.${name}.severity must be critical or warning`);
          else next.severity = o.severity;
        }
        rules[name as RuleName] = next;
      }
    }
  }
  if (problems.length) throw new AlertsConfigError(file, problems);
  return freeze({ evaluationIntervalMs, routes, groupWaitMs, repeatIntervalMs, sendResolved, rules, ...(smtp ? { smtp } : {}), ...(hubUrl ? { hubUrl } : {}), ...(quietHours ? { quietHours } : {}), ...(alertmanagerUrl ? { alertmanagerUrl } : {}) });
}

/** Reads a password file, refusing one that others can read. */
export function readSecretFile(path: string): string {
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) throw new Error(`${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  return readFileSync(path, 'utf8').trim();
}

/** Loads and validates `muster hub --alerts FILE`. */
export function loadAlertsConfig(file: string, env: Record<string, string | undefined>): AlertsConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AlertsConfigError(file, [`cannot read it: ${(err as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new AlertsConfigError(file, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  return parseAlertsConfig(doc, file, env, readSecretFile);
}
