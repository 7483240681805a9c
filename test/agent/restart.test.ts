/**
 * Nothing lost when the agent itself restarts while the hub is away: the
 * outbox is saved to the state directory on SIGTERM and sent after the restart.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { api, joinToken, startAgentProcess, startHubProcess, waitFor } from '../helpers/processes.ts';

test('samples taken while the hub was down survive an agent restart and arrive without a gap', async () => {
  let hub = await startHubProcess();
  let agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'restarter' });
  const samples = async () => (await api(hub.url, hub.adminToken, '/api/v1/nodes/restarter/samples')).body as { ackedSeq: number; samples: { seq: number; ts: string }[] };
  try {
    await waitFor('first samples', async () => (await samples()).ackedSeq >= 2, 15_000);
    await hub.stop('SIGKILL');
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 3_000));
    assert.is(await agent.stop('SIGTERM'), 0, 'the agent stops cleanly while the hub is away');
    assert.ok(existsSync(join(agent.stateDir, 'outbox.json')), 'the outbox was saved');
    hub = await startHubProcess({ dataDir: hub.dataDir, port: hub.port });
    // No join token this time: the saved credential is enough.
    agent = startAgentProcess({ hub: hub.url, name: 'restarter', stateDir: agent.stateDir });
    const s = await waitFor('the saved samples to arrive', async () => {
      const v = await samples();
      return v.samples.filter((x) => Date.parse(x.ts) > downAt).length >= 4 ? v : undefined;
    }, 20_000);
    s.samples.forEach((x, i) => assert.is(x.seq, i + 1, `no gap at #${i + 1}`));
    const whileDown = s.samples.filter((x) => Date.parse(x.ts) > downAt && Date.parse(x.ts) < downAt + 3_000);
    assert.ok(whileDown.length >= 2, `samples from the outage arrived (${whileDown.length})`);
  } finally {
    await agent.stop();
    await hub.stop();
  }
});

test.run();
