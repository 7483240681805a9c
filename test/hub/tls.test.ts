/**
 * TLS by default, and agents that cannot be fooled: real hub processes, real
 * agents, and impostors on loopback — another hub with its own CA, and a
 * man in the middle who serves the real hub's CA at /cacerts with his own
 * certificate. The agent must refuse both before it sends anything (its
 * join token is the prize), and say why.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { makeCertificateAuthority, makeServerCertificate } from '../../hub/x509.ts';
import { createPrivateKey } from 'node:crypto';
import { CLI, api, freePort, hubFetch, joinToken, startAgentProcess, startHubProcess, tempDir, waitFor, type HubProc } from '../helpers/processes.ts';

const DAY = 86_400_000;
const hubs: HubProc[] = [];
const servers: Server[] = [];

test.after(async () => {
  for (const s of servers) s.close();
  for (const h of hubs) await h.stop();
});

/** A certificate authority and a server certificate for 127.0.0.1, made the way the hub makes its own. */
function selfMade(sans: string[]) {
  const ca = makeCertificateAuthority('impostor CA', new Date(Date.now() - DAY), new Date(Date.now() + 30 * DAY));
  const caCert = new X509Certificate(ca.certPem);
  const server = makeServerCertificate({ subject: 'impostor CA', publicKey: caCert.publicKey, privateKey: createPrivateKey(ca.keyPem) }, sans, new Date(Date.now() - DAY), new Date(Date.now() + 30 * DAY));
  return { ca, server };
}

/** An https + wss server that records every frame any client sends it: the impostor. */
async function impostor(cert: string, key: string, caPemToServe?: string) {
  const port = await freePort();
  const frames: string[] = [];
  const server = createHttpsServer({ cert, key }, (req, res) => {
    if (req.url === '/cacerts' && caPemToServe) { res.end(caPemToServe); return; }
    res.statusCode = 404;
    res.end();
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (d) => frames.push(d.toString())));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  servers.push(server);
  return { url: `https://127.0.0.1:${port}`, frames };
}

test('the hub makes its CA at first start: HTTPS on its port, keys 0600, a pin openssl agrees with', async () => {
  const hub = await startHubProcess();
  hubs.push(hub);
  assert.match(hub.url, /^https:\/\//);
  const tls = join(hub.dataDir, 'tls');
  for (const f of ['ca.key', 'server.key']) assert.is(statSync(join(tls, f)).mode & 0o777, 0o600, `${f} is 0600`);
  const der = execFileSync('openssl', ['x509', '-in', join(tls, 'ca.crt'), '-outform', 'der']);
  assert.is(hub.caHash, `sha256:${createHash('sha256').update(der).digest('hex')}`, 'the printed pin is the CA\'s DER SHA-256');
  assert.match(execFileSync('openssl', ['verify', '-CAfile', join(tls, 'ca.crt'), join(tls, 'server.crt')]).toString(), /OK/);
  const r = await hubFetch(`${hub.url}/healthz`);
  assert.is(r.status, 200, 'verified against the CA');
  await fetch(`${hub.url}/healthz`).then(() => assert.unreachable('an unconfigured client trusted the hub'), (err: { cause?: { code?: string } }) => {
    assert.is(err.cause?.code, 'SELF_SIGNED_CERT_IN_CHAIN', 'a client without the CA does not trust the hub');
  });
  assert.is((await hubFetch(`${hub.url}/cacerts`)).status, 200);
});

test('an agent with the pin joins, keeps the CA, and comes back after a restart without it', async () => {
  const hub = hubs[0]!;
  const stateDir = tempDir('agent-pin');
  const agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'pinned', stateDir, args: ['--ca-hash', hub.caHash!] });
  try {
    await waitFor('the pinned agent online', async () => (await api(hub.url, hub.adminToken, '/api/v1/nodes/pinned')).body.online === true, 20_000, 200);
    assert.is(readFileSync(join(stateDir, 'ca.crt'), 'utf8'), readFileSync(hub.caFile!, 'utf8'), 'the CA is kept in the state directory');
  } finally {
    await agent.stop();
  }
  const again = startAgentProcess({ hub: hub.url, name: 'pinned', stateDir, args: ['--ca-hash', hub.caHash!] });
  try {
    await waitFor('back on its credential and kept CA', async () => (await api(hub.url, hub.adminToken, '/api/v1/nodes/pinned')).body.online === true, 20_000, 200);
  } finally {
    await again.stop();
  }
});

test('an impostor hub with its own CA gets refused before the agent says a word', async () => {
  const hub = hubs[0]!;
  const fake = selfMade(['127.0.0.1']);
  const evil = await impostor(fake.server.certPem + fake.ca.certPem, fake.server.keyPem, fake.ca.certPem);
  const token = await joinToken(hub);
  const agent = startAgentProcess({ hub: evil.url, join: token, name: 'victim', args: ['--ca-hash', hub.caHash!] });
  const code = await Promise.race([agent.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
  assert.is(code, 1, 'the agent stops instead of talking to the impostor');
  assert.match(agent.output(), /MUSTER_ERR_CA_MISMATCH/);
  assert.equal(evil.frames, [], 'the impostor heard nothing: no hello, no join token');
});

test('a man in the middle serving the real CA at /cacerts, with a certificate of his own, is refused too', async () => {
  const hub = hubs[0]!;
  const fake = selfMade(['127.0.0.1']);
  const mitm = await impostor(fake.server.certPem + fake.ca.certPem, fake.server.keyPem, readFileSync(hub.caFile!, 'utf8'));
  const agent = startAgentProcess({ hub: mitm.url, join: await joinToken(hub), name: 'victim2', args: ['--ca-hash', hub.caHash!] });
  const code = await Promise.race([agent.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
  assert.is(code, 1);
  assert.match(agent.output(), /not signed by the pinned CA/);
  assert.equal(mitm.frames, [], 'the man in the middle heard nothing');
});

test('without a pin, an agent refuses the hub\'s own CA; an address the certificate does not name is refused, --tls-san fixes it', async () => {
  const hub = hubs[0]!;
  // Started by hand: the helper would hand it the hub's CA.
  const raw = spawnSync(process.execPath, [join(process.cwd(), 'dist/muster-agent.js'), '--hub', hub.url, '--join', await joinToken(hub), '--name', 'nopin', '--state', tempDir('nopin'), '--log-level', 'info'], { encoding: 'utf8', timeout: 20_000 });
  assert.is(raw.status, 1);
  assert.match(raw.stderr, /not trusted .*--ca-hash/);

  // A hub on every address, its certificate naming 127.0.0.2 besides this machine's own.
  const port = await freePort();
  const san = await startHubProcess({ host: '0.0.0.0', port, args: ['--tls-san', '127.0.0.2'] });
  hubs.push(san);
  // 127.0.0.3 reaches this machine's loopback too, but the certificate does not name it.
  const wrongName = spawnSync(process.execPath, [join(process.cwd(), 'dist/muster-agent.js'), '--hub', `https://127.0.0.3:${port}`, '--join', await joinToken(san), '--name', 'wrongname', '--state', tempDir('wrongname'), '--ca-hash', san.caHash!], { encoding: 'utf8', timeout: 20_000 });
  assert.is(wrongName.status, 1, wrongName.stderr);
  assert.match(wrongName.stderr, /not valid for the address 127\.0\.0\.3.*--tls-san 127\.0\.0\.3/);

  const viaSan = startAgentProcess({ hub: `https://127.0.0.2:${port}`, join: await joinToken(san), name: 'via-san', args: ['--ca-hash', san.caHash!] });
  try {
    await waitFor('the agent online through the extra name', async () => (await api(san.url, san.adminToken, '/api/v1/nodes/via-san')).body.online === true, 20_000, 200);
  } finally {
    await viaSan.stop();
  }
});

test('the CLI verifies the hub: refused without the CA, fine with --ca-file or MUSTER_CA_FILE', () => {
  const hub = hubs[0]!;
  const env = { ...process.env, MUSTER_CONFIG: join(tempDir('cli-tls'), 'client.json') };
  delete (env as Record<string, unknown>).MUSTER_CA_FILE;
  const muster = (args: string[], extra: Record<string, string> = {}) => spawnSync(process.execPath, [CLI, ...args], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 30_000 });
  const refused = muster(['nodes', '--hub', hub.url, '--token', hub.adminToken]);
  assert.is(refused.status, 1);
  assert.match(refused.stderr, /MUSTER_ERR_TLS|not signed by a CA you trust/);
  assert.is(muster(['nodes', '--hub', hub.url, '--token', hub.adminToken, '--ca-file', hub.caFile!]).status, 0);
  assert.is(muster(['nodes', '--hub', hub.url, '--token', hub.adminToken], { MUSTER_CA_FILE: hub.caFile! }).status, 0);
});

test('your own certificate is served, and taken again when its files change', async () => {
  const dir = tempDir('owncert');
  const first = selfMade(['127.0.0.1']);
  const second = selfMade(['127.0.0.1']);
  writeFileSync(join(dir, 'cert.pem'), first.server.certPem + first.ca.certPem);
  writeFileSync(join(dir, 'key.pem'), first.server.keyPem, { mode: 0o600 });
  const port = await freePort();
  const hub = await startHubProcess({ port, args: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')] });
  hubs.push(hub);
  const served = () => new Promise<string>((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => { resolve(s.getPeerCertificate().fingerprint256); s.end(); });
    s.on('error', reject);
  });
  const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
  assert.is(await served(), fp(first.server.certPem));
  assert.not.ok(existsSync(join(hub.dataDir, 'tls', 'ca.key')), 'no CA of its own is made');
  writeFileSync(join(dir, 'cert.pem'), second.server.certPem + second.ca.certPem);
  writeFileSync(join(dir, 'key.pem'), second.server.keyPem);
  await waitFor('the renewed certificate served', async () => (await served()) === fp(second.server.certPem), 20_000, 250);
});

test('--no-tls serves plain HTTP and says so at every start', async () => {
  const hub = await startHubProcess({ args: ['--no-tls'] });
  hubs.push(hub);
  assert.match(hub.url, /^http:\/\//);
  assert.match(hub.output(), /TLS is OFF/);
  assert.is((await fetch(`${hub.url}/healthz`)).status, 200);
});

test.run();
