import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createListenerReader, decodeAddress, formatIpv6, parseProcNet } from '../../../agent/collectors/listeners.ts';
import { createProcessReader } from '../../../agent/collectors/processes.ts';
import { ROOT, freePort, tempDir, waitFor } from '../../helpers/processes.ts';
import type { ProcessInfo } from '../../../protocol/workloads.ts';

const fixture = (name: string) => readFileSync(join(ROOT, 'test/fixtures/workloads', name), 'latin1');

test('addresses: IPv4 and IPv6 words in host byte order, zero runs compressed, mapped IPv4', () => {
  assert.is(decodeAddress('0100007F', true), '127.0.0.1');
  assert.is(decodeAddress('7F000001', false), '127.0.0.1');
  assert.is(decodeAddress('00000000000000000000000001000000', true), '::1');
  assert.is(decodeAddress('00000000000000000000000000000000', true), '::');
  assert.is(decodeAddress('0000000000000000FFFF00000100007F', true), '::ffff:127.0.0.1');
  assert.is(formatIpv6(new Uint8Array([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0xab, 0xcd])), 'fe80::1234:0:0:abcd');
  assert.is(formatIpv6(new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])), '2001:db8:1::1');
});

test('recorded /proc/net: listening TCP and bound UDP sockets only', () => {
  const tcp = parseProcNet(fixture('proc-net-tcp.txt'), 'tcp', true);
  assert.ok(tcp.some((s) => s.address === '127.0.0.1' && s.port === 7001 && s.inode > 0));
  const tcp6 = parseProcNet(fixture('proc-net-tcp6.txt'), 'tcp', true);
  assert.equal(tcp6.filter((s) => s.port === 7002 || s.port === 7003).map((s) => `${s.address} ${s.port}`).sort(), [':: 7003', '::1 7002']);
  const allTcpLines = fixture('proc-net-tcp.txt').trim().split('\n').length - 1;
  assert.ok(tcp.length < allTcpLines, 'established connections are left out');
  assert.equal(parseProcNet(fixture('proc-net-udp.txt'), 'udp', true).map((s) => `${s.address} ${s.port}`), ['0.0.0.0 7004']);
  assert.equal(parseProcNet(fixture('proc-net-udp6.txt'), 'udp', true).map((s) => `${s.address} ${s.port}`), ['::ffff:127.0.0.1 7005']);
});

function listener(tcpPort: number, udpPort: number, tcp6Port: number): Promise<ChildProcess> {
  const code = `const net=require('net'),dgram=require('dgram');
net.createServer().listen(${tcpPort},'127.0.0.1');net.createServer().listen(${tcp6Port},'::1');
dgram.createSocket('udp4').bind(${udpPort},'127.0.0.1',()=>console.log('ready'));`;
  const child = spawn(process.execPath, ['-e', code, 'muster-listener-test'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => setTimeout(() => resolve(child), 100));
    child.once('exit', (c) => reject(new Error(`listener exited ${c}`)));
  });
}

test('real host: a process listening on TCP (v4 and v6) and UDP is found with its pid and name, and goes when it ends', async () => {
  const [tcpPort, udpPort, tcp6Port] = [await freePort(), await freePort(), await freePort()];
  const child = await listener(tcpPort, udpPort, tcp6Port);
  const procs = createProcessReader({});
  const reader = createListenerReader({});
  try {
    const ports = await reader.read(await procs.read());
    const mine = ports.filter((p) => p.pid === child.pid).map((p) => `${p.protocol} ${p.address}:${p.port}`).sort();
    assert.equal(mine, [`tcp 127.0.0.1:${tcpPort}`, `tcp ::1:${tcp6Port}`, `udp 127.0.0.1:${udpPort}`].sort());
    const p = ports.find((x) => x.port === tcpPort)!;
    assert.ok(p.process && p.process.length > 0);
    assert.equal(p.owner, (await procs.read()).find((x) => x.pid === child.pid)!.owner);
  } finally {
    child.kill();
  }
  await waitFor('the ports to go', async () => !(await reader.read(await procs.read())).some((p) => p.port === tcpPort), 5_000);
});

test('a socket no process holds is looked for again at the next read, then after retryMs, then twice as long each time; a holder that comes is then found', async () => {
  const root = tempDir('listeners');
  try {
    mkdirSync(join(root, 'proc/net'), { recursive: true });
    // One listener on 127.0.0.1:8080 (inode 5555), little-endian as on x86 and ARM.
    writeFileSync(join(root, 'proc/net/tcp'), '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
      + '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 100 0 0 10 0\n');
    const proc = (pid: number, startTime: number): ProcessInfo => ({ pid, ppid: 1, name: `p${pid}`, cmdline: `p${pid}`, uid: 0, user: 'root', startTime, cpuSeconds: 0, rssBytes: 0, owner: {} });
    for (const pid of [100, 200]) mkdirSync(join(root, `proc/${pid}/fd`), { recursive: true });
    symlinkSync('/dev/null', join(root, 'proc/200/fd/0'));
    const procs = [proc(100, 1000), proc(200, 2000)];
    let now = 0;
    const reader = createListenerReader({ root, now: () => now, retryMs: 60_000, maxRetryMs: 240_000 });
    const pidAt = async (t: number) => { now = t; return (await reader.read(procs)).find((p) => p.port === 8080)!.pid; };
    assert.is(await pidAt(0), undefined, 'nobody holds it');
    // Missed once: looked for again at the next read (its process may have started after the process list).
    assert.is(await pidAt(10), undefined, 'looked for again at once, still nobody');
    symlinkSync('socket:[5555]', join(root, 'proc/100/fd/3'));
    assert.is(await pidAt(60_009), undefined, 'not looked for before retryMs');
    assert.is(await pidAt(60_010), 100, 'found at the first retry');
    rmSync(join(root, 'proc/100/fd/3'));
    // Its holder gone from the list: looked for at once and at the next read, not found; then 60 s later, then 120 s later.
    const gone = [proc(200, 2000)];
    const pidNow = async (t: number) => { now = t; return (await reader.read(gone)).find((p) => p.port === 8080)!.pid; };
    assert.is(await pidNow(61_000), undefined);
    assert.is(await pidNow(61_010), undefined);
    assert.is(await pidNow(121_010), undefined, 'a miss at +60 s');
    symlinkSync('socket:[5555]', join(root, 'proc/200/fd/4'));
    assert.is(await pidNow(241_009), undefined, 'the next look is 120 s later');
    assert.is(await pidNow(241_010), 200);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('real host: a new listener in a process already known is seen at the next read', async () => {
  const procs = createProcessReader({});
  const reader = createListenerReader({});
  const list = await procs.read();
  await reader.read(list);
  await reader.read(list);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const found = (await reader.read(list)).find((p) => p.port === port);
    assert.is(found?.pid, process.pid);
  } finally {
    server.close();
  }
});


test.run();
