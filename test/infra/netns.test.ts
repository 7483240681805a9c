/**
 * The test-host helper itself: a namespace reaches the root namespace over its
 * own link, and blackhole() makes that link silent (not refused, not
 * unreachable) until heal().
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { createTestHost, destroyAllTestHosts, netnsReady, type TestHost } from '../helpers/netns.ts';
import { waitFor } from '../helpers/processes.ts';

const run = promisify(execFile);
let ready = false;
let host: TestHost | undefined;
let http: Server | undefined;
let url = '';
const seenFrom: string[] = [];

/**
 * One HTTP request from inside the namespace, by a Node child (curl may not be
 * installed), with a client-side timeout. Prints `status body`, or the error's
 * name and code, so a timeout is told apart from a refusal or EHOSTUNREACH.
 * It exits at once: an aborted fetch leaves undici's connect attempt holding
 * the event loop until its own 10 s connect timeout.
 */
const FETCH = `
fetch(process.argv[1], { signal: AbortSignal.timeout(Number(process.argv[2])) })
  .then(async (r) => console.log(\`\${r.status} \${await r.text()}\`))
  .catch((e) => console.log(\`ERROR \${e.name} \${e.cause?.code ?? ''}\`.trim()))
  .finally(() => process.exit(0));
`;

async function fetchFromInside(timeoutMs: number): Promise<{ out: string; ms: number }> {
  const t = Date.now();
  const out = await host!.exec(process.execPath, ['-e', FETCH, url, String(timeoutMs)], { timeoutMs: timeoutMs + 10_000 });
  return { out, ms: Date.now() - t };
}

test.before(async () => {
  ready = await netnsReady();
  if (!ready) return;
  host = await createTestHost();
  http = createHttpServer((req, res) => {
    seenFrom.push(req.socket.remoteAddress ?? '');
    res.end('pong');
  });
  await new Promise<void>((resolve) => http!.listen(0, host!.hostAddress, resolve));
  url = `http://${host.hostAddress}:${(http.address() as AddressInfo).port}/`;
});

test.after(async () => {
  http?.close();
  await destroyAllTestHosts();
});

test('the host has its own address and reaches a server on hostAddress in the root namespace', async () => {
  if (!ready) return;
  assert.match(host!.name, new RegExp(`^muster-t-${process.pid}-\\d+$`));
  const { out } = await fetchFromInside(5_000);
  assert.is(out, '200 pong');
  assert.is(seenFrom.at(-1), host!.address, 'the server sees the namespace end as the client');
});

test('blackhole: a request from inside hears nothing, no error, until its own timeout; heal: it works again', async () => {
  if (!ready) return;
  await host!.blackhole();
  const before = seenFrom.length;
  const silent = await fetchFromInside(3_000);
  assert.is(silent.out, 'ERROR TimeoutError', 'neither refused nor unreachable: the client only gave up');
  assert.ok(silent.ms >= 2_900, `gave up after ${silent.ms} ms`);
  assert.is(seenFrom.length, before, 'nothing reached the server');

  await host!.heal();
  assert.is((await fetchFromInside(5_000)).out, '200 pong');
});

test('blackhole: an open TCP connection goes quiet without an error on either side, then resumes on the same connection after heal', async () => {
  if (!ready) return;
  let accepted = 0;
  let received = 0;
  const serverEvents: string[] = [];
  const tcp = createTcpServer((s) => {
    accepted++;
    s.on('data', (d) => { received += d.length; });
    s.on('error', (e) => serverEvents.push(`error ${e.message}`));
    s.on('close', () => serverEvents.push('close'));
  });
  await new Promise<void>((resolve) => tcp.listen(0, host!.hostAddress, resolve));
  const port = (tcp.address() as AddressInfo).port;
  // A byte every 100 ms; any socket event besides 'connect' is printed.
  const client = host!.spawn(process.execPath, ['-e', `
    const s = require('node:net').connect(${port}, '${host!.hostAddress}');
    s.on('connect', () => setInterval(() => s.write('x'), 100));
    for (const ev of ['error', 'close', 'end', 'timeout']) s.on(ev, (e) => console.log(ev, e?.code ?? ''));
  `], { stdio: ['ignore', 'pipe', 'pipe'] });
  let clientOut = '';
  client.stdout!.on('data', (d: Buffer) => { clientOut += d.toString(); });
  client.stderr!.on('data', (d: Buffer) => { clientOut += d.toString(); });
  try {
    await waitFor('bytes over the link', () => received >= 3);
    await host!.blackhole();
    await new Promise((r) => setTimeout(r, 200)); // what was already on the wire may still land
    const atCut = received;
    await new Promise((r) => setTimeout(r, 2_500));
    assert.is(received, atCut, 'nothing arrives through the black hole');
    assert.is(clientOut, '', 'the client saw no error: its writes succeed locally');
    assert.equal(serverEvents, []);

    await host!.heal();
    // The kernel retransmits on its backed-off timer (about 1.6-3.2 s after 2.7 s of loss).
    await waitFor('the held bytes after heal', () => received > atCut + 20, 10_000);
    assert.is(accepted, 1, 'the same connection carried on');
    assert.is(clientOut, '');
  } finally {
    client.kill('SIGKILL');
    tcp.close();
  }
});

test('destroy: the processes inside, the namespace and the link are gone', async () => {
  if (!ready) return;
  const h = await createTestHost();
  const child = h.spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  assert.ok((await run('ip', ['netns', 'list'])).stdout.includes(h.name));
  await h.destroy();
  await exited;
  assert.not.ok((await run('ip', ['netns', 'list'])).stdout.includes(h.name));
  assert.not.ok((await run('ip', ['-o', 'link', 'show'])).stdout.includes(`${h.rootInterface}@`));
  assert.not.ok((await run('ip', ['-4', '-o', 'addr', 'show'])).stdout.includes(`${h.hostAddress}/`));
});

test.run();
