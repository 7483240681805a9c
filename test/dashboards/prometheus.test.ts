/**
 * The board against a real Prometheus: it scrapes a real hub with two real
 * agents and a running container; every PromQL expression of every dashboard
 * panel must return at least one series; promtool accepts /metrics; and
 * Prometheus's own service discovery lists the container that says where its
 * metrics are.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  api, freePort, hubFetch, joinToken, missingComponent, ROOT, scrape, startAgentProcess, startHubProcess, tempDir, waitFor, type AgentProc, type HubProc,
} from '../helpers/processes.ts';
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus.ts';
import { TEST_IMAGE, TEST_LABEL, docker, dockerReady, removeTestContainers } from '../helpers/docker.ts';
import { createMetricsCollector } from '../../agent/collectors/registry.ts';
import { nodeCollectors } from '../../agent/collectors/node-collectors.ts';
import { expr } from '../../dashboards/common.ts';
import { startNodeExporter, startProcessExporter } from '../helpers/node-exporter.ts';

const run = promisify(execFile);
const PREFIX = 'muster-t-prom-';
const SERVICE = `prom-web-${process.pid}`;

let hub: HubProc | undefined;
const agents: AgentProc[] = [];
let prometheus: ChildProcess | undefined;
let promUrl = '';
let ready = false;

/**
 * This VM has no sensors, so prom-a carries a Raspberry Pi's: the agent's own
 * hwmon and thermal_zone collectors run over the Pi's recorded /sys
 * (test/fixtures/host/pi), and their output reaches the hub through the
 * agent's textfile collector, as a node with those sensors would send it.
 */
async function piSensorsTextfile(dir: string): Promise<void> {
  const sensors = createMetricsCollector({
    registry: nodeCollectors().filter((c) => c.name === 'hwmon' || c.name === 'thermal_zone'), root: join(ROOT, 'test/fixtures/host/pi'),
  });
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  let text = '';
  for (const f of await sensors.collect()) {
    if (f.name.startsWith('node_scrape_')) continue;
    text += `# TYPE ${f.name} ${f.type}\n`;
    f.values.forEach((v, i) => {
      const labels = f.labels.map((l, j) => `${l}="${esc(f.labelValues[i * f.labels.length + j]!)}"`).join(',');
      text += `${f.name}{${labels}} ${v}\n`;
    });
  }
  assert.match(text, /node_hwmon_temp_celsius\{/);
  assert.match(text, /node_thermal_zone_temp\{/);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pi-sensors.prom'), text);
}

async function promQuery(query: string): Promise<{ status: string; data: { result: unknown[] }; error?: string }> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  return (await res.json()) as { status: string; data: { result: unknown[] }; error?: string };
}

test.before(async () => {
  if (!existsSync(PROMETHEUS)) {
    missingComponent('Prometheus', 'bash install/test-host.sh installs Debian\'s prometheus');
    return;
  }
  if (!(await dockerReady())) return;
  await removeTestContainers(PREFIX);
  hub = await startHubProcess();
  const token = await joinToken(hub);
  const sensors = join(tempDir('sensors'), 'textfile');
  await piSensorsTextfile(sensors);
  agents.push(startAgentProcess({ hub: hub.url, join: token, name: 'prom-a', interval: '1s', args: ['--textfile-dir', sensors] }));
  agents.push(startAgentProcess({ hub: hub.url, join: token, name: 'prom-b', interval: '1s' }));
  const webPort = await freePort();
  await docker('run', '-d', '--name', `${PREFIX}web-${process.pid}`, '-l', TEST_LABEL, '-l', `muster.service=${SERVICE}`, '-l', 'muster.metrics.port=8080',
    '-p', `127.0.0.1:${webPort}:8080`, TEST_IMAGE, 'httpd', '-f', '-p', '8080', '-h', '/www');

  const dir = tempDir('prometheus');
  // A token of role metrics, as the README has Prometheus use: it may scrape and discover, nothing else.
  const metricsToken = await api<{ token: string }>(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'metrics' } });
  assert.is(metricsToken.status, 201, JSON.stringify(metricsToken.body));
  writeFileSync(join(dir, 'muster.token'), metricsToken.body.token);
  const hubHostPort = hub.url.replace(/^https?:\/\//, '');
  // As the README tells people to: https, verified against the hub's own CA (tls_config.ca_file).
  const config = [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: muster',
    '    honor_labels: true',
    '    scheme: https',
    `    tls_config: { ca_file: ${hub.caFile} }`,
    `    authorization: { type: Bearer, credentials_file: ${join(dir, 'muster.token')} }`,
    `    static_configs: [ { targets: ['${hubHostPort}'] } ]`,
    '  - job_name: muster-services',
    '    http_sd_configs:',
    `      - url: ${hub.url}/api/v1/sd/prometheus`,
    '        refresh_interval: 1s',
    `        tls_config: { ca_file: ${hub.caFile} }`,
    `        authorization: { type: Bearer, credentials_file: ${join(dir, 'muster.token')} }`,
    '',
  ].join('\n');
  ({ url: promUrl, proc: prometheus } = await startPrometheus(dir, config));
  // Enough scrapes for rate() over the dashboards' window, with both nodes and the container's use in them.
  // (Both agents run on this machine, so both report the container.)
  await waitFor('both nodes and the container in Prometheus', async () => {
    const up = await promQuery('muster_node_up == 1');
    // The agents' cAdvisor families (not the hub's stand-in from Docker's stats, which they replace), with a rate.
    const ctr = await promQuery(`rate(container_cpu_usage_seconds_total{container_label_muster_service="${SERVICE}",cpu="total"}[15s])`);
    const rate = await promQuery('rate(node_cpu_seconds_total{mode="idle"}[15s])');
    const disk = await promQuery('rate(node_disk_read_bytes_total{instance="prom-a"}[15s])');
    const sensor = await promQuery('node_hwmon_temp_celsius{instance="prom-a"}');
    return up.data.result.length === 2 && ctr.data.result.length >= 1 && rate.data.result.length > 0 && disk.data.result.length > 0 && sensor.data.result.length > 0;
  }, 40_000, 500);
  ready = true;
});

test.after(async () => {
  prometheus?.kill();
  await removeTestContainers(PREFIX);
  for (const a of agents) await a.stop();
  await hub?.stop();
});

interface PanelJson { type?: string; title?: string; datasource?: { type?: string }; targets?: { expr?: string }[]; panels?: PanelJson[] }

/** Every PromQL expression of a dashboard, with the panel it belongs to. */
function expressions(file: string): { panel: string; expr: string }[] {
  const d = JSON.parse(readFileSync(join(ROOT, 'dashboards', file), 'utf8')) as { panels: PanelJson[] };
  const out: { panel: string; expr: string }[] = [];
  const walk = (panels: PanelJson[]) => {
    for (const p of panels) {
      if (p.panels) walk(p.panels);
      if (p.datasource?.type !== 'prometheus') continue;
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title ?? '?', expr: t.expr });
    }
  };
  walk(d.panels);
  return out;
}

/** Substitutes the dashboard variables the way Grafana would for one chosen value each. */
const substitute = (expr: string) => expr
  .replace(/\$__rate_interval/g, '15s').replace(/\$__interval/g, '5s')
  .replace(/\$instance/g, 'prom-a').replace(/\$service/g, SERVICE);

for (const file of ['fleet.json', 'node.json', 'services.json']) {
  test(`every PromQL expression in ${file} returns at least one series`, async () => {
    if (!ready) return;
    const list = expressions(file);
    assert.ok(list.length >= 5, `${file} has ${list.length} expressions`);
    const empty: string[] = [];
    for (const { panel, expr } of list) {
      const r = await promQuery(substitute(expr));
      assert.is(r.status, 'success', `${panel}: ${expr}: ${r.error ?? ''}`);
      if (r.data.result.length === 0) empty.push(`${panel}: ${substitute(expr)}`);
    }
    assert.equal(empty, [], 'panels without data');
  });
}

test('the temperature panels show a node\'s sensors, and "no sensor" (NaN) for a node without', async () => {
  if (!ready) return;
  const value = async (q: string) => (await promQuery(q)).data.result.map((r) => Number((r as { value: [number, string] }).value[1]));
  // prom-a carries the Pi's sensors (48.312 °C in the recording); prom-b, this VM alone, has none.
  assert.equal(await value(expr.temperature('instance="prom-a"')), [48.312]);
  assert.equal(await value(expr.hottest('instance="prom-a"')), [48.312]);
  assert.ok((await value(expr.temperature('instance="prom-b"'))).every(Number.isNaN));
  assert.equal(await value(expr.hottest('instance="prom-b"')), []);
});

test('the Logs dashboard queries Loki by instance and service', () => {
  const d = readFileSync(join(ROOT, 'dashboards', 'logs.json'), 'utf8');
  assert.match(d, /"type": "loki"/);
  assert.match(d, /instance=~\\"\$instance\\", service_name=~\\"\$service\\"/);
});

test('promtool check metrics accepts /metrics, but for the complaints node_exporter, process-exporter and cAdvisor draw themselves', async () => {
  if (!ready) return;
  const body = await scrape(hub!);
  const problems = await promtool(body);
  // The exporters' own names (node_memory_MemTotal_bytes, node_netstat_Tcp_InSegs,
  // node_entropy_available_bits, namedprocess_scrape_errors) draw lint complaints;
  // muster keeps those names because stock dashboards query them. Anything else is muster's own fault.
  const theirs = new Set<string>(CADVISOR_COMPLAINTS);
  for (const start of [startNodeExporter, startProcessExporter]) {
    const exporter = await start([]);
    if (!exporter) { missingComponent(start === startNodeExporter ? 'prometheus-node-exporter' : 'prometheus-process-exporter', 'bash install/test-host.sh installs it'); return; }
    try {
      for (const l of await promtool(await exporter.scrape())) theirs.add(l);
    } finally {
      await exporter.stop();
    }
  }
  const ours = problems.filter((l) => !theirs.has(l));
  assert.equal(ours, [], 'no complaint that the exporters\' own output does not draw too');
  assert.ok(!problems.some((l) => l.startsWith('muster_')), 'muster_* families are lint-clean');
});

/**
 * cAdvisor (not packaged by Debian 12, so not run here) has one counter
 * without `_total` among the families muster writes under its names
 * (lib/metrics/prometheus.go).
 */
const CADVISOR_COMPLAINTS = ['container_memory_failcnt counter metrics should have "_total" suffix'];

async function promtool(text: string): Promise<string[]> {
  const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  child.stdin.end(text);
  await new Promise((r) => child.once('exit', r));
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

test('Prometheus\'s own service discovery lists the instance of a service whose container carries muster.metrics.port', async () => {
  if (!ready) return;
  const target = await waitFor('the SD target in Prometheus', async () => {
    const r = (await (await fetch(`${promUrl}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: Record<string, string>; scrapeUrl: string }[] } };
    return r.data.activeTargets.find((t) => t.labels['service'] === SERVICE);
  }, 15_000, 250);
  assert.ok(['prom-a', 'prom-b'].includes(target.labels['node']!));
  assert.match(target.labels['instance']!, /^prom-[ab]:\d+$/);
  assert.match(target.scrapeUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  // And the endpoint itself: the full list, JSON, behind the admin token.
  const sd = await api(hub!.url, hub!.adminToken, '/api/v1/sd/prometheus');
  assert.is(sd.status, 200);
  assert.ok(Array.isArray(sd.body));
  assert.is((await hubFetch(`${hub!.url}/api/v1/sd/prometheus`)).status, 401);
  void run;
});

test.run();
