/**
 * Upgrades from the hub, on a real Debian 12 with systemd as PID 1: the agent
 * installed by the one line, then `muster agents upgrade` with a newer bundle
 * on the hub: the agent downloads it, checks it, swaps it in and systemd
 * starts it. Then a bundle that cannot run at all: it crashes at every start,
 * and after its minute the launcher puts the previous one back, which
 * reconnects; the hub reports the upgrade rolled back.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { AGENT_BUNDLE, CLI, api, startHubProcess, tempDir, waitFor, type HubProc } from '../helpers/processes.ts';
import { startSystemdNode, systemdNodeReady, type SystemdNode } from '../helpers/systemd-node.ts';
import { MUSTER_VERSION } from '../../protocol/index.ts';

const NAME = `muster-t-upg-${process.pid}`;
let hub: HubProc | undefined;
let node: SystemdNode | undefined;
const served = join(tempDir('upgrade-bundle'), 'muster-agent.js');

test.after(async () => {
  await node?.destroy();
  await hub?.stop();
});

/** The hub's bundle, as a release with another version would be: the same code, its version string changed. */
function bundleOfVersion(version: string): string {
  return readFileSync(AGENT_BUNDLE, 'utf8').replaceAll(`"${MUSTER_VERSION}"`, `"${version}"`).replace(`// muster-agent ${MUSTER_VERSION}`, `// muster-agent ${version}`);
}

const muster = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args, '--hub', hub!.url, '--token', hub!.adminToken, '--ca-file', hub!.caFile!], { encoding: 'utf8', timeout: 240_000 });
const agentsView = async () => (await api<{ agents: { node: string; version: string; upgrade: { state: string } | null }[] }>(hub!.url, hub!.adminToken, '/api/v1/agents')).body.agents.find((a) => a.node === NAME)!;

test('muster agents upgrade swaps a newer bundle in through systemd; a bundle that cannot run is rolled back by itself', async () => {
  if (!(await systemdNodeReady())) return;
  copyFileSync(AGENT_BUNDLE, served);
  hub = await startHubProcess({ args: ['--agent-bundle', served] });
  node = await startSystemdNode({ name: NAME });
  const created = spawnSync(process.execPath, [CLI, 'token', 'create', '--role', 'agent', '--hub', hub.url, '--token', hub.adminToken, '--ca-file', hub.caFile!], { encoding: 'utf8' });
  const line = created.stderr.split('\n').find((l) => l.startsWith('curl '))!;
  const installed = await node.exec(`cd /root && ${line}`, 300_000);
  assert.is(installed.code, 0, installed.stdout + installed.stderr);
  await waitFor('the agent online', async () => (await agentsView())?.version === MUSTER_VERSION, 60_000, 500);

  // A newer release on the hub.
  writeFileSync(served, bundleOfVersion('9.9.1'));
  const up = muster('agents', 'upgrade', '--node', NAME, '--wait');
  assert.is(up.status, 0, up.stdout + up.stderr);
  assert.match(up.stdout, /done/);
  const after = await agentsView();
  assert.is(after.version, '9.9.1', 'the node runs the new version');
  assert.is(after.upgrade?.state, 'done');
  assert.is(await node.sh('systemctl is-active muster-agent'), 'active');
  assert.is(await node.sh('test -e /usr/local/lib/muster-agent/upgrade.pending && echo pending || echo confirmed'), 'confirmed');

  // A release that dies at start: systemd restarts it, and a minute on the launcher puts 9.9.1 back.
  writeFileSync(served, `#!/usr/bin/env node\n// muster-agent 9.9.2-broken\nprocess.stderr.write('broken build\\n'); process.exit(3);\n`);
  const broken = muster('agents', 'upgrade', '--node', NAME);
  assert.is(broken.status, 0, broken.stdout + broken.stderr);
  await waitFor('the agent restarting into the broken bundle', async () => (await agentsView()).upgrade?.state === 'restarting', 30_000, 250);
  const rolled = await waitFor('the previous version back on the hub', async () => {
    const v = await agentsView();
    return v.upgrade?.state === 'rolled back' ? v : undefined;
  }, 150_000, 1_000);
  assert.is(rolled.version, '9.9.1', 'the node came back with the version it ran before');
  assert.match(await node.sh('journalctl -u muster-agent -o cat --no-pager | tail -200'), /the previous one is back/);
  assert.match(readFileSync(served, 'utf8'), /9\.9\.2-broken/, 'the hub still offers the broken one: nothing on the node pinned it');
  assert.is(await node.sh('test -e /usr/local/lib/muster-agent/upgrade.pending && echo pending || echo none'), 'none');
});

test.run();
