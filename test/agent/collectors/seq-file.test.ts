/**
 * The seq_file reader gives what readFileSync gives: for small and large
 * regular files, and for a real /proc/net/tcp longer than a kernel page,
 * which it must read on past the first page.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createSeqFileReader } from '../../../agent/collectors/seq-file.ts';
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

test.run();
