/**
 * Forwarding to a real Prometheus Alertmanager (Debian's
 * prometheus-alertmanager, started by the test on loopback): what fires on
 * the hub shows in Alertmanager's API with its labels, and a resolved alert
 * is no longer active there.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../hub/store.ts';
import { parseAlertsConfig, readSecretFile } from '../../hub/alerts/config.ts';
import { createAlertEngine } from '../../hub/alerts/engine.ts';
import { createAlertmanagerForwarder } from '../../hub/alerts/alertmanager.ts';
import type { FleetView } from '../../hub/alerts/rules.ts';
import type { SampleData } from '../../protocol/index.ts';
import { freePort, missingComponent, tempDir, waitFor } from '../helpers/processes.ts';

const BIN = '/usr/bin/prometheus-alertmanager';
const silent = { info() {}, warn() {}, error() {}, debug() {} };
let am: ChildProcess | undefined;
let url = '';

test.before(async () => {
  if (!existsSync(BIN)) {
    missingComponent('prometheus-alertmanager', 'bash install/test-host.sh installs it');
    return;
  }
  const dir = tempDir('alertmanager');
  writeFileSync(join(dir, 'am.yml'), 'route: { receiver: nobody }\nreceivers: [{ name: nobody }]\n');
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  am = spawn(BIN, [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${dir}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='], { stdio: 'ignore' });
  await waitFor('Alertmanager to answer', async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok, 20_000, 200);
});

test.after(() => { am?.kill(); });

test('what fires on the hub is in Alertmanager with its labels; once resolved it is no longer active there', async () => {
  if (!am) return;
  const disk = { pct: 97 };
  const fleet: FleetView = {
    nodes: [{ id: 1, name: 'nas-1', online: true, lastSeen: Date.now(), facts: null }],
    latest: () => ({ cpuUsed: 0.1, data: {
      cpu: [], load: [0, 0, 0], memory: { totalBytes: 100, availableBytes: 90, freeBytes: 90, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0 },
      filesystems: [{ mountpoint: '/srv', device: '/dev/md0', fstype: 'ext4', sizeBytes: 100, freeBytes: 100 - disk.pct, availBytes: 100 - disk.pct, files: 0, filesFree: 0 }],
      network: [], temperatures: [], unavailable: [],
    } as SampleData }),
    workloads: () => undefined,
    services: () => [],
  };
  const config = parseAlertsConfig({ alertmanager: { url }, hub_url: 'http://hub.lab:7070', rules: { disk_full: { for: '0s' } } }, 'x.yaml', {}, readSecretFile);
  assert.is(config.alertmanagerUrl, url);
  const engine = createAlertEngine({
    db: openDatabase(':memory:'), config, fleet: () => fleet, now: Date.now, log: silent,
    forwarder: createAlertmanagerForwarder({ url, evaluationIntervalMs: config.evaluationIntervalMs, now: Date.now, hubUrl: 'http://hub.lab:7070' }),
  });
  engine.evaluate();
  await engine.forward();
  assert.is(engine.forwardFailures(), 0);
  type AmAlert = { labels: Record<string, string>; annotations: Record<string, string>; status: { state: string }; generatorURL: string };
  const active = async () => (await (await fetch(`${url}/api/v2/alerts?active=true&silenced=false&inhibited=false`)).json()) as AmAlert[];
  const got = await waitFor('the alert in Alertmanager', async () => (await active()).find((a) => a.labels.alertname === 'disk_full'), 10_000, 200);
  assert.equal(got.labels, { alertname: 'disk_full', instance: 'nas-1', severity: 'critical', subject: '/srv' });
  assert.match(got.annotations.summary!, /filesystem \/srv on nas-1 at 97%/);
  assert.is(got.generatorURL, 'http://hub.lab:7070/api/v1/alerts');
  assert.is(got.status.state, 'active');

  disk.pct = 40;
  await new Promise((r) => setTimeout(r, 20)); // resolvedAt strictly after startsAt
  engine.evaluate();
  await engine.forward();
  await waitFor('the alert resolved in Alertmanager', async () => !(await active()).some((a) => a.labels.alertname === 'disk_full'), 10_000, 200);

  const down = createAlertEngine({
    db: openDatabase(':memory:'), config, fleet: () => ({ ...fleet, latest: () => ({ cpuUsed: 0.1, data: { ...fleet.latest(1)!.data, filesystems: [{ ...fleet.latest(1)!.data.filesystems[0]!, availBytes: 1, freeBytes: 1 }] } }) }), now: Date.now, log: silent,
    forwarder: createAlertmanagerForwarder({ url: 'http://127.0.0.1:9', evaluationIntervalMs: 10_000, now: Date.now, timeoutMs: 2_000 }),
  });
  down.evaluate();
  await down.forward();
  assert.is(down.forwardFailures(), 1, 'an unreachable Alertmanager is counted, not thrown');
});

test.run();
