/**
 * Per-node scraping with the real Prometheus: a hub (TLS on, as by default)
 * with two real agents, and Prometheus finding the nodes through
 * `http_sd_configs` at /api/v1/sd/nodes, verifying the hub with its CA and
 * showing a metrics token, as the README tells people to, beside a job for
 * /metrics/fleet (the hub's and the fleet's own series). Each node is its
 * own target: one `up{instance="NAME"}` per node, 1 while it is connected,
 * 0 once it is gone; its node_* series under its own instance.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  api, hubFetch, joinToken, missingComponent, startAgentProcess, startHubProcess, tempDir, waitFor, type AgentProc, type HubProc,
} from '../helpers/processes.ts';
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus.ts';

const NODES = ['pn-a', 'pn-b'];

let hub: HubProc | undefined;
const agents = new Map<string, AgentProc>();
let prometheus: ChildProcess | undefined;
let promUrl = '';
let metricsToken = '';

interface Series { metric: Record<string, string>; value: [number, string] }
async function promQuery(query: string): Promise<Series[]> {
  const r = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(query)}`)).json()) as { status: string; data: { result: Series[] }; error?: string };
  if (r.status !== 'success') throw new Error(`${query}: ${r.error}`);
  return r.data.result;
}
const byInstance = (rows: Series[]) => Object.fromEntries(rows.map((r) => [r.metric['instance'], Number(r.value[1])]).sort());

test.before(async () => {
  if (!existsSync(PROMETHEUS)) {
    missingComponent('Prometheus', 'bash install/test-host.sh installs Debian\'s prometheus');
    return;
  }
  hub = await startHubProcess({ dns: 'off' });
  assert.ok(hub.caFile, 'TLS is on by default');
  const join_ = await joinToken(hub);
  for (const name of NODES) {
    agents.set(name, startAgentProcess({ hub: hub.url, join: join_, name, interval: '1s', args: ['--label', 'tier=web', '--label', `topology.zone=${name === 'pn-a' ? 'r1' : 'r2'}`] }));
  }
  await waitFor('both nodes online', async () => {
    const r = await api<{ nodes: { name: string; online: boolean }[] }>(hub!.url, hub!.adminToken, '/api/v1/nodes');
    return NODES.every((n) => r.body.nodes.some((x) => x.name === n && x.online));
  }, 30_000, 200);

  const dir = tempDir('prometheus-nodes');
  const made = await api<{ token: string }>(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'metrics', name: 'prometheus' } });
  assert.is(made.status, 201);
  metricsToken = made.body.token;
  writeFileSync(join(dir, 'muster.token'), metricsToken);
  const auth = `{ type: Bearer, credentials_file: ${join(dir, 'muster.token')} }`;
  // The README's per-node job: the SD request and the scrapes both verify the hub's CA and show the token.
  const config = [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    'scrape_configs:',
    '  - job_name: muster-nodes',
    '    honor_labels: true',
    `    tls_config: { ca_file: ${hub.caFile} }`,
    `    authorization: ${auth}`,
    '    http_sd_configs:',
    `      - url: ${hub.url}/api/v1/sd/nodes`,
    '        refresh_interval: 1s',
    `        tls_config: { ca_file: ${hub.caFile} }`,
    `        authorization: ${auth}`,
    // The rest of /metrics (the hub's own series, the fleet's totals), without any node's.
    '  - job_name: muster-fleet',
    '    honor_labels: true',
    '    scheme: https',
    '    metrics_path: /metrics/fleet',
    `    tls_config: { ca_file: ${hub.caFile} }`,
    `    authorization: ${auth}`,
    `    static_configs: [ { targets: ['${hub.url.replace(/^https:\/\//, '')}'] } ]`,
    '',
  ].join('\n');
  ({ url: promUrl, proc: prometheus } = await startPrometheus(dir, config));
});

test.after(async () => {
  prometheus?.kill();
  for (const a of agents.values()) await a.stop();
  await hub?.stop();
});

test('Prometheus finds one target per node through the hub, with its path, instance and labels', async () => {
  if (!prometheus) return;
  type Target = { labels: Record<string, string>; discoveredLabels: Record<string, string>; scrapeUrl: string; health: string };
  const targets = await waitFor('both node targets up', async () => {
    const r = (await (await fetch(`${promUrl}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: Target[] } };
    const mine = r.data.activeTargets.filter((t) => t.labels['job'] === 'muster-nodes');
    return mine.length === 2 && mine.every((t) => t.health === 'up') ? mine : undefined;
  }, 30_000, 250);
  // The hub at the address Prometheus fetched the list from, over https.
  assert.match(hub!.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(targets.map((t) => t.scrapeUrl).sort(), NODES.map((n) => `${hub!.url}/metrics/nodes/${n}`));
  for (const t of targets) {
    const name = t.labels['instance']!;
    assert.ok(NODES.includes(name));
    assert.is(t.discoveredLabels['__scheme__'], 'https');
    assert.is(t.discoveredLabels['__meta_muster_online'], 'true');
    assert.is(t.discoveredLabels['__meta_muster_label_tier'], 'web');
    assert.is(t.discoveredLabels['__meta_muster_label_topology_zone'], name === 'pn-a' ? 'r1' : 'r2');
  }
});

test('one up{instance} per node, 1 each, and each node\'s node_* series under its own instance', async () => {
  if (!prometheus) return;
  await waitFor('up and node_load1 for both nodes', async () => {
    const up = byInstance(await promQuery('up{job="muster-nodes"}'));
    const load = byInstance(await promQuery('node_load1{job="muster-nodes"}'));
    return up['pn-a'] === 1 && up['pn-b'] === 1 && 'pn-a' in load && 'pn-b' in load;
  }, 30_000, 250);
  assert.equal(byInstance(await promQuery('up{job="muster-nodes"}')), { 'pn-a': 1, 'pn-b': 1 });
  // Every node_* family the agent ships, for each node: hundreds of series each, none under another instance.
  const counts = byInstance(await promQuery('count by (instance) ({job="muster-nodes", __name__=~"node_.+"})'));
  assert.equal(Object.keys(counts), NODES);
  for (const n of NODES) assert.ok(counts[n]! > 100, `${n} has ${counts[n]} node_* series`);
  assert.equal(Object.keys(byInstance(await promQuery('count by (instance) (node_cpu_seconds_total{job="muster-nodes",mode="idle"})'))), NODES);
  assert.equal(await promQuery('count({job="muster-nodes", exported_instance=~".+"})'), [], 'honor_labels keeps the node\'s own instance');
  // The fleet's totals come from the fleet job alone, once; no node's series come twice.
  const totals = await waitFor('the fleet job scraped', async () => {
    const r = await promQuery('muster_nodes{state="online"}');
    return r.length > 0 ? r : undefined;
  }, 15_000, 250);
  assert.equal(totals.map((r) => [r.metric['job'], Number(r.value[1])]), [['muster-fleet', 2]]);
  assert.equal(await promQuery('count by (instance) ({job="muster-fleet", instance=~"pn-.+"})'), []);
});

test('the per-node endpoint: only the node\'s own series; 404, 400 and 401 where it should', async () => {
  if (!prometheus) return;
  const get = (path: string, token: string | undefined = metricsToken) => hubFetch(hub!.url + path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const res = await get('/metrics/nodes/pn-a');
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const lines = (await res.text()).split('\n').filter((l) => l && !l.startsWith('#'));
  assert.ok(lines.length > 100);
  assert.equal(lines.filter((l) => !l.includes('instance="pn-a"')), []);
  const unknown = await get('/metrics/nodes/nope');
  assert.is(unknown.status, 404);
  assert.is(((await unknown.json()) as { error: { code: string } }).error.code, 'MUSTER_ERR_NODE_NOT_FOUND');
  const bad = await get('/metrics/nodes/-x');
  assert.is(bad.status, 400);
  assert.is(((await bad.json()) as { error: { code: string } }).error.code, 'MUSTER_ERR_BAD_REQUEST');
  assert.is((await get('/metrics/nodes/pn-a', '')).status, 401);
  assert.is((await get('/api/v1/sd/nodes', '')).status, 401);
});

test('a node that goes offline answers 503, so Prometheus marks it down (up 0) while the other stays up', async () => {
  if (!prometheus) return;
  await agents.get('pn-b')!.stop();
  await waitFor('up{instance="pn-b"} 0', async () => {
    const up = byInstance(await promQuery('up{job="muster-nodes"}'));
    return up['pn-b'] === 0 && up['pn-a'] === 1;
  }, 30_000, 250);
  const res = await hubFetch(`${hub!.url}/metrics/nodes/pn-b`, { headers: { authorization: `Bearer ${metricsToken}` } });
  assert.is(res.status, 503);
  assert.is(((await res.json()) as { error: { code: string } }).error.code, 'MUSTER_ERR_NODE_OFFLINE');
  // Still listed, now offline: a dead node is a target that is down, as with node_exporter, not one that vanished.
  const sd = await api<{ labels: Record<string, string> }[]>(hub!.url, metricsToken, '/api/v1/sd/nodes');
  assert.is(sd.body.find((g) => g.labels['instance'] === 'pn-b')?.labels['__meta_muster_online'], 'false');
  // Its series ended with the failed scrape: nothing of pn-b is current any more.
  await waitFor('pn-b\'s series stale', async () => (await promQuery('node_load1{instance="pn-b"}')).length === 0, 15_000, 250);
});

test.run();
