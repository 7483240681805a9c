/**
 * Liveness both ways over a link that goes silent: the agent runs in its own
 * network namespace, and every packet between it and the hub is dropped (no
 * RST, no ICMP: a pulled cable, a dead NAT entry). The agent must notice
 * within a minute, dial again, and be back once the link is healed, with
 * the samples of the silent spell; the hub marks the node offline meanwhile.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AGENT_BUNDLE, api, joinToken, startHubProcess, tempDir, waitFor, type HubProc } from '../helpers/processes.ts';
import { createTestHost, destroyAllTestHosts, netnsReady, type TestHost } from '../helpers/netns.ts';
import type { ChildProcess } from 'node:child_process';

let host: TestHost | undefined;
let hub: HubProc | undefined;
let agent: ChildProcess | undefined;
let output = '';

test.after(async () => {
  agent?.kill('SIGKILL');
  await hub?.stop();
  await destroyAllTestHosts();
});

test('a black-holed link is dropped by the agent within a minute, and the agent is back once the link heals', async () => {
  if (!(await netnsReady())) return;
  host = await createTestHost();
  hub = await startHubProcess({ host: host.hostAddress });
  const stateDir = tempDir('agent-blackhole');
  agent = host.spawn(process.execPath, [AGENT_BUNDLE, '--hub', hub.url, '--join', await joinToken(hub), '--name', 'far', '--state', stateDir, '--interval', '1s', ...(hub.caHash ? ['--ca-hash', hub.caHash] : [])]);
  agent.stdout?.on('data', (d: Buffer) => { output += d.toString(); });
  agent.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
  const node = async () => (await api(hub!.url, hub!.adminToken, '/api/v1/nodes/far')).body;
  await waitFor('the agent in the namespace online', async () => (await node()).online === true, 60_000, 250)
    .catch((e: Error) => { throw new Error(`${e.message}; the agent said:\n${output}`); });
  const links = () => output.match(/connected to hub/g)?.length ?? 0;
  assert.is(links(), 1);

  await host.blackhole();
  const holedAt = Date.now();
  await waitFor('the agent to notice the silent link', () => /hub link silent/.test(output), 65_000, 250);
  const noticedMs = Date.now() - holedAt;
  assert.ok(noticedMs >= 25_000 && noticedMs <= 60_000, `noticed after ${Math.round(noticedMs / 1000)} s (within 30-60 s, not at once)`);
  await waitFor('the hub to mark the node offline', async () => (await node()).online === false, 65_000, 500);

  await host.heal();
  const healedAt = Date.now();
  await waitFor('the agent back on a new link', async () => links() >= 2 && (await node()).online === true, 90_000, 250);
  // Its backoff is capped at 30 s, and a dial into the silence gives up after 10 s.
  assert.ok(Date.now() - healedAt < 45_000, `back ${Math.round((Date.now() - healedAt) / 1000)} s after the heal`);
  // What was sampled while the link was silent arrives after all.
  const samples = await waitFor('samples of the silent spell', async () => {
    const s = (await api<{ samples: { ts: string }[] }>(hub!.url, hub!.adminToken, '/api/v1/nodes/far/samples')).body.samples;
    return s.some((x) => Date.parse(x.ts) > healedAt) ? s : undefined;
  }, 30_000, 500);
  const times = samples.map((x) => Date.parse(x.ts));
  for (let i = 1; i < times.length; i++) {
    assert.ok(times[i]! - times[i - 1]! < 2_500, `no sample missing between ${samples[i - 1]!.ts} and ${samples[i]!.ts}`);
  }
  assert.ok(samples.filter((x) => Date.parse(x.ts) > holedAt && Date.parse(x.ts) < healedAt).length >= 30, 'the silent spell is covered');
});

test.run();
