/**
 * Offline detection: a link that goes silent without closing (a cut cable, a
 * frozen VM) is dropped after the missed heartbeats and its node marked offline.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startHub } from '../../hub/main.ts';
import { PROTOCOL_VERSION } from '../../protocol/index.ts';
import { agentSocket, api, tempDir, trustHub, waitFor } from '../helpers/processes.ts';

test('a silent agent is marked offline after the missed heartbeats, and online again when it returns', async () => {
  const hub = await startHub({ dataDir: tempDir('offline'), host: '127.0.0.1', port: 0, logger: false, gateway: { heartbeatMs: 200, offlineAfterMs: 700 } });
  try {
    const join = hub.tokens.create('agent').token;
    if (hub.caFile) trustHub(hub.url, hub.caFile);
    const hello = (auth: object) => JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: 't', node: { name: 'quiet', machineId: 'm-quiet' }, auth });
    const ws = agentSocket(hub.url);
    const welcome = await new Promise<{ credential: string; heartbeatMs: number }>((resolve, reject) => {
      ws.on('open', () => ws.send(hello({ kind: 'join', token: join })));
      ws.once('message', (d) => resolve(JSON.parse(d.toString())));
      ws.on('error', reject);
    });
    assert.is(welcome.heartbeatMs, 200, 'the hub tells the agent its heartbeat period');
    const online = async () => (await api(hub.url, hub.adminToken, '/api/v1/nodes/quiet')).body.online as boolean;
    assert.is(await online(), true);
    // Say nothing more: the hub must drop the link by itself.
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await waitFor('the silent node to go offline', async () => (await online()) === false, 5_000, 50);
    assert.is(await closed, 1006, 'the hub terminated the dead link');
    const back = agentSocket(hub.url);
    await new Promise((resolve, reject) => {
      back.on('open', () => back.send(hello({ kind: 'credential', token: welcome.credential })));
      back.once('message', resolve);
      back.on('error', reject);
    });
    assert.is(await online(), true, 'the credential from the join brings it back');
    back.close();
  } finally {
    await hub.close();
  }
});

test.run();
