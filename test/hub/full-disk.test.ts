/**
 * Storage faults never stop the hub: its data directory on a small tmpfs,
 * filled to the last byte while two agents send. The hub stays up, says
 * "degraded" and why, stops acking, and the agents keep their records; once
 * the disk has room again every sample of the full spell arrives. A hub
 * started on a full disk serves the API and DNS from what it has.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  api, hubFetch, joinToken, missingComponent, startAgentProcess, startHubProcess, tempDir, waitFor, type AgentProc, type HubProc,
} from '../helpers/processes.ts';
import { dig, digReady, status } from '../helpers/dns.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Mounts a tmpfs of `mib` MiB; undefined (reported) when this machine cannot (not root). */
function smallDisk(mib: number): string | undefined {
  const dir = tempDir('smalldisk');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch (err) {
    missingComponent('a tmpfs mount', `run the tests as root: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** Writes `file` until the filesystem refuses even 512 more bytes. */
function fillUp(file: string): void {
  const fd = openSync(file, 'a');
  try {
    for (const size of [1 << 20, 64 << 10, 4 << 10, 512]) {
      const chunk = Buffer.alloc(size, 0x55);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

interface Health { status: string; storage: { ok: boolean; code?: string; error?: string } }
const health = async (hub: HubProc) => (await (await hubFetch(`${hub.url}/healthz`)).json()) as Health;
const samplesOf = async (hub: HubProc, name: string) =>
  (await api<{ samples: { seq: number; ts: string }[] }>(hub.url, hub.adminToken, `/api/v1/nodes/${name}/samples`)).body.samples;

let disk: string | undefined;

test.before(() => {
  disk = smallDisk(40);
});

test.after(() => {
  if (disk) execFileSync('umount', ['-l', disk]);
});

test('a disk filled to the last byte while agents send: the hub stays up, degraded, and nothing is lost once there is room', async () => {
  if (!disk) return;
  const hub = await startHubProcess({ dataDir: join(disk, 'hub') });
  const token = await joinToken(hub);
  const agents: AgentProc[] = ['full-a', 'full-b'].map((name) => startAgentProcess({ hub: hub.url, join: token, name }));
  const filler = join(disk, 'filler');
  try {
    for (const a of agents) await waitFor(`${a.name} reporting`, async () => (await samplesOf(hub, a.name)).length >= 2, 20_000);
    const fullAt = Date.now();
    fillUp(filler);
    const h = await waitFor('the hub to say it is degraded', async () => { const v = await health(hub); return v.status === 'degraded' ? v : undefined; }, 20_000, 200);
    assert.match(h.storage.code ?? '', /^SQLITE_(FULL|IOERR)/, `the reason is the disk: ${h.storage.code}`);
    assert.ok(h.storage.error, 'with the error text');
    for (const a of agents) await waitFor(`${a.name} paused`, () => /paused this agent/.test(a.output()), 15_000, 200);
    // The API and its alerts still answer while nothing can be written.
    await waitFor('a hub_storage alert to fire', async () => {
      const alerts = await api<{ alerts: { rule: string; state: string }[] }>(hub.url, hub.adminToken, '/api/v1/alerts');
      return alerts.status === 200 && alerts.body.alerts.some((a) => a.rule === 'hub_storage' && a.state === 'firing');
    }, 20_000, 500);
    assert.is((await api(hub.url, hub.adminToken, '/api/v1/services')).status, 200);
    await sleep(6_000);
    assert.is(hub.child.exitCode, null, 'the hub never exited');

    rmSync(filler);
    const freedAt = Date.now();
    await waitFor('the hub healthy again', async () => (await health(hub)).status === 'ok', 20_000, 200);
    for (const a of agents) {
      const samples = await waitFor(`${a.name}'s samples from after the disk was freed`, async () => {
        const s = await samplesOf(hub, a.name);
        return s.some((x) => Date.parse(x.ts) > freedAt + 1_000) ? s : undefined;
      }, 30_000, 250);
      const times = samples.map((x) => Date.parse(x.ts));
      for (let i = 1; i < times.length; i++) {
        assert.ok(times[i]! - times[i - 1]! < 2_500, `${a.name}: no sample missing between ${samples[i - 1]!.ts} and ${samples[i]!.ts}`);
      }
      assert.ok(samples.filter((x) => Date.parse(x.ts) > fullAt && Date.parse(x.ts) < freedAt).length >= 6, `${a.name}: the full spell's samples arrived`);
      const node = (await api(hub.url, hub.adminToken, `/api/v1/nodes/${a.name}`)).body;
      assert.is(node.samples.dropped, 0, `${a.name} lost nothing`);
    }
    assert.equal((await hub.output()).match(/storage failed/g)?.length ?? 0, 1, 'one log line for the failure, not one per frame');
    assert.is(hub.child.exitCode, null, 'the hub never exited');
  } finally {
    rmSync(filler, { force: true });
    await Promise.all(agents.map((a) => a.stop()));
    await hub.stop();
  }
});

test('a hub started on a full disk serves the API and DNS from what it has, and ingests again once there is room', async () => {
  if (!disk || !(await digReady())) return;
  let hub = await startHubProcess({ dataDir: join(disk, 'hub2') });
  const agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'full-c' });
  const filler = join(disk, 'filler2');
  try {
    await waitFor('full-c reporting', async () => (await samplesOf(hub, 'full-c')).length >= 2, 20_000);
    await hub.stop('SIGTERM');
    fillUp(filler);
    hub = await startHubProcess({ dataDir: hub.dataDir, port: hub.port });
    const nodes = await api<{ nodes: { name: string }[] }>(hub.url, hub.adminToken, '/api/v1/nodes');
    assert.is(nodes.status, 200);
    assert.equal(nodes.body.nodes.map((n) => n.name), ['full-c']);
    const answer = await dig(hub.dnsPort, 'full-c.node.internal', 'A');
    assert.is(status(answer), 'NOERROR', 'DNS answers for the node it knows');
    await waitFor('the hub to say it is degraded', async () => (await health(hub)).status === 'degraded', 20_000, 200);
    rmSync(filler);
    const freedAt = Date.now();
    await waitFor('samples stored again', async () => (await samplesOf(hub, 'full-c')).some((x) => Date.parse(x.ts) > freedAt), 30_000, 250);
    assert.is((await health(hub)).status, 'ok');
  } finally {
    rmSync(filler, { force: true });
    await agent.stop();
    await hub.stop();
  }
});

test.run();
