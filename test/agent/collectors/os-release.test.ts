import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseOsRelease, parseOsReleaseVars, readOsRelease } from '../../../agent/collectors/os-release.ts';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/host/${path}`, import.meta.url), 'utf8');

test('recorded Debian 12', () => {
  assert.equal(parseOsRelease(fixture('debian-vm/etc/os-release')), {
    id: 'debian', name: 'Debian GNU/Linux', version: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)',
  });
});

test('Raspberry Pi OS (32-bit) calls itself raspbian', () => {
  assert.equal(parseOsRelease(fixture('pi/etc/os-release')), {
    id: 'raspbian', name: 'Raspbian GNU/Linux', version: '12', prettyName: 'Raspbian GNU/Linux 12 (bookworm)',
  });
});

test('quoting, comments, and the spec defaults for a rolling release', () => {
  const text = "# comment\nNAME='Arch Linux'\nPRETTY_NAME=\"Say \\\"hi\\\" \\$HOME\"\nID=arch\nBUILD_ID=rolling\n";
  assert.equal(parseOsRelease(text), { id: 'arch', name: 'Arch Linux', version: 'rolling', prettyName: 'Say "hi" $HOME' });
  assert.is(parseOsReleaseVars(text).get('NAME'), 'Arch Linux');
  assert.equal(parseOsRelease(''), { id: 'linux', name: 'Linux', version: '', prettyName: 'Linux' });
});

test('falls back to /usr/lib/os-release', async () => {
  const root = await mkdtemp(join(tmpdir(), 'muster-os-'));
  try {
    await mkdir(join(root, 'usr/lib'), { recursive: true });
    await writeFile(join(root, 'usr/lib/os-release'), 'ID=fedora\nVERSION_ID=41\n');
    assert.equal((await readOsRelease(root)).id, 'fedora');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test.run();
