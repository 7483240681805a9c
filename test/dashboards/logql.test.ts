/**
 * The Logs dashboard's LogQL against what the hub really pushes: a real
 * agent reads a real container, the hub pushes to the strict Loki stand-in,
 * and every label any Loki query of the committed dashboards uses (stream
 * matchers, `by`/`without` groupings) must be among the labels of that push
 * and among LOKI_LABELS. Then the queries' stream selectors and line filters,
 * with the dashboard's variables set to the node and service the hub's own
 * /metrics give for that container (as Grafana would fill them), must pick
 * out its lines in the stand-in.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { joinToken, ROOT, scrape, startAgentProcess, startHubProcess, waitFor, type AgentProc, type HubProc } from '../helpers/processes.ts';
import { docker, dockerReady, removeTestContainers, TEST_IMAGE, TEST_LABEL } from '../helpers/docker.ts';
import { startLokiStandIn, type LokiStandIn } from '../helpers/loki.ts';
import { LOKI_LABELS } from '../../hub/logs/labels.ts';
import { buildDashboards } from '../../dashboards/build.ts';

const PREFIX = `muster-t-logql-${process.pid}`;
let hub: HubProc | undefined;
let loki: LokiStandIn | undefined;
let agent: AgentProc | undefined;

interface PanelJson { title?: string; datasource?: { type?: string }; targets?: { expr?: string }[]; panels?: PanelJson[] }

/** Every LogQL expression of the committed dashboards (the drift test ties them to the code), with its panel. */
function lokiExpressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const file of Object.keys(buildDashboards())) {
    const d = JSON.parse(readFileSync(join(ROOT, 'dashboards', file), 'utf8')) as { panels: PanelJson[]; templating: { list: { name: string; datasource?: { type?: string }; query?: unknown }[] } };
    const walk = (panels: PanelJson[]) => {
      for (const p of panels) {
        if (p.panels) walk(p.panels);
        if (p.datasource?.type !== 'loki') continue;
        for (const t of p.targets ?? []) if (t.expr) out.push({ where: `${file}: ${p.title}`, expr: t.expr });
      }
    };
    walk(d.panels);
    for (const v of d.templating.list) {
      if (v.datasource?.type === 'loki' && typeof v.query === 'string') out.push({ where: `${file}: variable ${v.name}`, expr: v.query });
    }
  }
  return out;
}

const STRING = '"((?:[^"\\\\]|\\\\.)*)"';
const MATCHER = new RegExp(`([A-Za-z_][A-Za-z0-9_]*)\\s*(=~|!~|!=|=)\\s*${STRING}`, 'g');

/** The label names an expression uses: in stream selectors, and in by/without groupings. */
function labelsUsed(expr: string): string[] {
  const out = new Set<string>();
  for (const sel of expr.matchAll(/\{([^}]*)\}/g)) for (const m of sel[1]!.matchAll(MATCHER)) out.add(m[1]!);
  for (const g of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const l of g[1]!.split(',')) if (l.trim()) out.add(l.trim());
  // label_values(name) or label_values({...}, name) in a Loki variable
  for (const v of expr.matchAll(/label_values\((?:\{[^}]*\}\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\)/g)) out.add(v[1]!);
  return [...out];
}

/** Grafana's interpolation of a single-value variable into a regex matcher: the value, regex-escaped. */
const regexEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether a stream's labels satisfy an expression's first stream selector, as Loki matches (regexes anchored; absent labels are ""). */
function selects(expr: string, labels: Record<string, string>): boolean {
  const sel = /\{([^}]*)\}/.exec(expr)![1]!;
  for (const [, name, op, value] of sel.matchAll(MATCHER)) {
    const v = labels[name!] ?? '';
    const want = value!.replace(/\\(.)/g, '$1');
    const ok = op === '=' ? v === want : op === '!=' ? v !== want : new RegExp(`^(?:${want})$`).test(v) === (op === '=~');
    if (!ok) return false;
  }
  return true;
}

/** The line filters (`|= "x"`) of an expression. */
const lineFilters = (expr: string) => [...expr.matchAll(new RegExp(`\\|=\\s*${STRING}`, 'g'))].map((m) => m[1]!);

test.after(async () => {
  await agent?.stop();
  await hub?.stop();
  await loki?.close();
  await removeTestContainers(PREFIX);
});

test('every label the dashboards\' LogQL uses is one the hub sends, and the queries find a container\'s lines', async () => {
  const exprs = lokiExpressions();
  assert.ok(exprs.length >= 2, `the Logs dashboard has its queries: ${JSON.stringify(exprs)}`);
  for (const { where, expr } of exprs) {
    for (const l of labelsUsed(expr)) assert.ok((LOKI_LABELS as readonly string[]).includes(l), `${where}: ${l} is not a label the hub sends (${expr})`);
  }
  if (!(await dockerReady())) return;

  loki = await startLokiStandIn();
  hub = await startHubProcess({ dns: 'off', args: ['--loki', loki.url, '--loki-batch-wait', '100ms'] });
  const node = `${PREFIX}-n`;
  agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: node });
  const container = `${PREFIX}-web`;
  const service = `logql-web-${process.pid}`;
  await docker('run', '-d', '--name', container, '-l', TEST_LABEL, '-l', `muster.service=${service}`, TEST_IMAGE, 'sh', '-c',
    'echo "level=error upstream failed"; echo "INFO ready"; echo "a line of no level"; sleep 3600');
  const entries = await waitFor('the container\'s three lines in Loki', () => {
    const e = loki!.entries({ container });
    return e.length >= 3 ? e : undefined;
  }, 30_000, 200);

  // The labels of a real push: the container's streams (one per level), and every other stream the hub pushed.
  const seen = new Set<string>();
  for (const s of loki.streams.values()) for (const k of Object.keys(s.labels)) seen.add(k);
  for (const { where, expr } of exprs) {
    for (const l of labelsUsed(expr)) assert.ok(seen.has(l), `${where}: ${l} is in no stream the hub pushed (${[...seen].join(', ')})`);
  }

  // The variables as Grafana fills them: node and service from the hub's /metrics (label_values of the dashboard's own variable queries).
  const metrics = await waitFor('the service on /metrics', async () => {
    const m = await scrape(hub!);
    return m.includes(`muster_service_instances{service="${service}"`) ? m : undefined;
  }, 20_000, 250);
  assert.match(metrics, new RegExp(`^muster_node_up\\{[^}]*instance="${node}"`, 'm'));
  const fill = (expr: string, level: string, search: string) => expr
    .replaceAll('$instance', regexEscape(node)).replaceAll('$service', regexEscape(service))
    .replaceAll('$level', level).replaceAll('$search', search).replaceAll('$__interval', '1m');
  for (const { where, expr } of exprs) {
    // "All" levels (.*): every line of the container, those of no level too.
    const all = fill(expr, '.*', '');
    const picked = entries.filter((e) => selects(all, e.labels) && lineFilters(all).every((f) => e.line.includes(f)));
    assert.equal(picked.map((e) => e.line).sort(), ['INFO ready', 'a line of no level', 'level=error upstream failed'], `${where}: ${all}`);
    // One level and a search word, as a person narrows it.
    const narrow = fill(expr, 'error', 'upstream');
    const one = loki.entries().filter((e) => selects(narrow, e.labels) && lineFilters(narrow).every((f) => e.line.includes(f)));
    assert.equal(one.map((e) => e.line), ['level=error upstream failed'], `${where}: ${narrow}`);
  }
  assert.ok(loki.pushes.every((p) => p.status === 204), JSON.stringify(loki.pushes.filter((p) => p.status !== 204).slice(0, 3)));
});

test.run();
