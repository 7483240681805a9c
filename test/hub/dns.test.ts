/**
 * DNS from the live inventory, end to end: a real hub and agent, real Docker,
 * the real `dig`. Changes in the inventory are in the answers within a second,
 * and a flood of garbage does not stop the hub from answering.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import {
  api, freePort, hubFetch, joinToken, startAgentProcess, startHubProcess, waitFor, type AgentProc, type HubProc,
} from '../helpers/processes.ts';
import { TEST_IMAGE, TEST_LABEL, docker, dockerReady, removeTestContainers } from '../helpers/docker.ts';
import { dig, digReady, section, status } from '../helpers/dns.ts';

const PREFIX = 'muster-t-dns-';
let hub: HubProc | undefined;
let agent: AgentProc | undefined;
let ready = false;

test.before(async () => {
  ready = (await digReady()) && (await dockerReady());
  if (!ready) return;
  await removeTestContainers(PREFIX);
  hub = await startHubProcess();
  agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'dns-node', interval: '10s' });
  await waitFor('the node online with its facts', async () => {
    const r = await api(hub!.url, hub!.adminToken, '/api/v1/nodes/dns-node');
    return r.status === 200 && r.body.online && r.body.facts;
  }, 20_000);
});

test.after(async () => {
  await removeTestContainers(PREFIX);
  await agent?.stop();
  await hub?.stop();
});

const answers = async (name: string, type: string) => section(await dig(hub!.dnsPort, name, type), 'ANSWER').map((r) => r.slice(4).join(' '));

test('the node resolves to the addresses it reports, with its metadata in TXT', async () => {
  if (!ready) return;
  const node = (await api(hub!.url, hub!.adminToken, '/api/v1/nodes/dns-node')).body;
  const reported = (node.facts.addresses as { address: string; family: number; internal: boolean }[]);
  const external = reported.filter((a) => !a.internal && a.family === 4).map((a) => a.address);
  const expected = external.length ? external : reported.filter((a) => a.family === 4).map((a) => a.address);
  assert.equal((await answers('DNS-NODE.node.internal', 'A')).sort(), expected.sort());
  const txt = (await answers('dns-node.node.internal', 'TXT')).join(' ');
  assert.match(txt, new RegExp(`"arch=${node.arch}"`));
});

test('a container started during the test resolves by its service name at once (its Docker event, not the next 10 s sample), with SRV; stopped, it is gone', async () => {
  if (!ready) return;
  const svc = `dns-web-${process.pid}`;
  const name = `${PREFIX}web-${process.pid}`;
  const port = await freePort();
  await docker('run', '-d', '--name', name, '-l', TEST_LABEL, '-l', `muster.service=${svc}`, '-p', `127.0.0.1:${port}:8080`, TEST_IMAGE, 'httpd', '-f', '-p', '8080', '-h', '/www');
  const started = Date.now();
  await waitFor('the service name to resolve', async () => (await answers(`${svc}.service.internal`, 'A')).length > 0, 5_000, 50);
  const tookMs = Date.now() - started;
  // The agent samples every 10 s: an answer well within that came with the Docker event.
  assert.ok(tookMs < 4_000, `resolved ${tookMs} ms after docker run returned`);
  assert.equal(await answers(`${svc}.service.internal`, 'A'), await answers('dns-node.node.internal', 'A'));
  const srv = await dig(hub!.dnsPort, `_${svc}._tcp.service.internal`, 'SRV');
  assert.equal(section(srv, 'ANSWER').map((r) => r.slice(4).join(' ')), [`10 10 ${port} dns-node.node.internal.`]);
  assert.ok(section(srv, 'ADDITIONAL').some((r) => r[0] === 'dns-node.node.internal.' && r[3] === 'A'));

  await docker('stop', '-t', '1', name);
  const stopped = Date.now();
  await waitFor('the stopped service to vanish from DNS', async () => status(await dig(hub!.dnsPort, `${svc}.service.internal`, 'A')) === 'NXDOMAIN', 9_000, 50);
  assert.ok(Date.now() - stopped < 4_000, 'gone with the Docker event, well before the next 10 s sample');
  await docker('rm', name);
});

test('a flood of random packets leaves a normal query answered within 50 ms, and the hub alive', async () => {
  if (!ready) return;
  const sock = createSocket('udp4');
  const flood = (async () => {
    for (let i = 0; i < 20_000; i++) {
      const junk = randomBytes(12 + (i % 300));
      await new Promise<void>((r) => sock.send(junk, hub!.dnsPort, '127.0.0.1', () => r()));
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const out = await dig(hub!.dnsPort, 'dns-node.node.internal', 'A');
    assert.is(status(out), 'NOERROR');
    times.push(Number(/Query time: (\d+) msec/.exec(out)?.[1] ?? 9999));
  }
  await flood;
  sock.close();
  times.sort((a, b) => a - b);
  assert.ok(times[2]! <= 50, `median query time during the flood ${times[2]} ms (all: ${times.join(', ')})`);
  assert.is((await hubFetch(`${hub!.url}/healthz`)).status, 200);
});

test('a node that goes offline takes its instances out of service answers', async () => {
  if (!ready) return;
  const svc = `dns-off-${process.pid}`;
  const name = `${PREFIX}off-${process.pid}`;
  await docker('run', '-d', '--name', name, '-l', TEST_LABEL, '-l', `muster.service=${svc}`, TEST_IMAGE, 'sleep', '300');
  await waitFor('the service to resolve', async () => (await answers(`${svc}.service.internal`, 'A')).length > 0, 5_000, 50);
  await agent!.stop();
  await waitFor('the offline node\'s service to vanish', async () => status(await dig(hub!.dnsPort, `${svc}.service.internal`, 'A')) === 'NXDOMAIN', 5_000, 50);
  assert.ok((await answers('dns-node.node.internal', 'A')).length > 0, 'the node itself still has its name');
  await docker('rm', '-f', name);
});

test.run();
