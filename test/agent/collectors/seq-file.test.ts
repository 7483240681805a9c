/**
 * The seq_file reader gives what readFileSync gives: for small and large
 * regular files, and for a real /proc/net/tcp longer than a kernel page,
 * which it must read on past the first page. The prefix reader gives the
 * header and the records before the first one it does not keep: on real
 * /proc/net/tcp and tcp6 with connections open, every listening socket and
 * no other.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createSeqFileReader, createSeqPrefixReader } from '../../../agent/collectors/seq-file.ts';
import { parseProcNet } from '../../../agent/collectors/listeners.ts';
import { tempDir } from '../../helpers/processes.ts';

test('regular files: empty, short, one page, longer than the buffer', () => {
  const dir = tempDir('seqfile');
  try {
    const read = createSeqFileReader(dir, 8192);
    for (const [name, len] of [['empty', 0], ['short', 100], ['page', 4096], ['long', 100_000]] as const) {
      const text = Array.from({ length: len }, (_, i) => String.fromCharCode(32 + (i % 90))).join('');
      writeFileSync(join(dir, name), text, 'latin1');
      assert.is(read(`/${name}`), text, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('real /proc/net/tcp longer than a page: every listening socket is in it, as readFileSync reads it', async () => {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < 40; i++) {
      const s = createServer();
      await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
      servers.push(s);
    }
    const ports = servers.map((s) => (s.address() as { port: number }).port).sort((a, b) => a - b);
    const text = createSeqFileReader('/')('/proc/net/tcp');
    assert.ok(text.length > 4096, `${text.length} bytes: more than one page`);
    const listening = (t: string) => parseProcNet(t, 'tcp').map((s) => s.port).filter((p) => ports.includes(p)).sort((a, b) => a - b);
    assert.equal(listening(text), ports);
    assert.equal(listening(text), listening(readFileSync('/proc/net/tcp', 'latin1')));
    assert.ok(text.endsWith('\n') && text.startsWith('  sl'), 'whole lines, the header first');
  } finally {
    for (const s of servers) s.close();
  }
});

test('prefix of a regular file: the header and the records kept, across short reads and a last line without a newline', () => {
  const dir = tempDir('seqprefix');
  try {
    const read = createSeqPrefixReader(dir);
    const keep = (r: string) => r.startsWith('keep');
    const header = 'header line\n';
    const kept = Array.from({ length: 40 }, (_, i) => `keep ${i} ${'x'.repeat(i * 7)}\n`).join('');
    writeFileSync(join(dir, 'mixed'), header + kept + 'drop 1\n' + 'keep after a dropped one\n'.repeat(5000));
    for (const first of [1, 100, 600, 100_000]) assert.is(read('/mixed', keep, first), header + kept, `first read of ${first} bytes`);
    writeFileSync(join(dir, 'all'), header + kept + 'keep last');
    assert.is(read('/all', keep, 300), header + kept + 'keep last');
    writeFileSync(join(dir, 'header-only'), header);
    assert.is(read('/header-only', keep, 300), header);
    writeFileSync(join(dir, 'empty'), '');
    assert.is(read('/empty', keep, 300), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('real /proc/net/tcp and tcp6 with connections open: the prefix holds every listening socket and nothing else', async () => {
  const servers: Server[] = [];
  const clients: Socket[] = [];
  const listen = async (host: string) => {
    const s = createServer((c) => clients.push(c));
    await new Promise<void>((resolve) => s.listen(0, host, resolve));
    servers.push(s);
    return (s.address() as { port: number }).port;
  };
  try {
    const ports4: number[] = [];
    const ports6: number[] = [];
    for (let i = 0; i < 25; i++) ports4.push(await listen('127.0.0.1'));
    for (let i = 0; i < 25; i++) ports6.push(await listen('::1'));
    // Established sockets of both families, in the hash after the listeners.
    for (const [host, ports] of [['127.0.0.1', ports4], ['::1', ports6]] as const) {
      for (const port of ports.slice(0, 20)) {
        const c = connect(port, host);
        await new Promise<void>((resolve, reject) => { c.once('connect', resolve); c.once('error', reject); });
        clients.push(c);
      }
    }
    const read = createSeqPrefixReader('/');
    const listening = /^\s*\d+: \S+ \S+ 0A /;
    for (const [file, ports] of [['tcp', ports4], ['tcp6', ports6]] as const) {
      const full = readFileSync(`/proc/net/${file}`, 'latin1');
      assert.ok(full.split('\n').some((l) => /^\s*\d+: \S+ \S+ 01 /.test(l)), `${file}: established sockets are listed`);
      for (const first of [0, 2000]) {
        const prefix = read(`/proc/net/${file}`, (r) => listening.test(r), first);
        const records = prefix.split('\n').slice(1, -1);
        assert.ok(prefix.startsWith('  sl') && prefix.endsWith('\n'), `${file}: the header and whole lines`);
        assert.ok(records.every((r) => listening.test(r)), `${file}: listening sockets only`);
        const ours = (t: string) => parseProcNet(t, 'tcp').map((s) => s.port).filter((p) => ports.includes(p)).sort((a, b) => a - b);
        assert.equal(ours(prefix), [...ports].sort((a, b) => a - b), `${file}, first read ${first} bytes: every listener`);
      }
    }
  } finally {
    for (const c of clients) c.destroy();
    for (const s of servers) s.close();
  }
});

test.run();
