import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createProcessReader, parseCmdline, parsePasswd, parseProcStat, readPageSize } from '../../../agent/collectors/processes.ts';
import { ROOT, waitFor } from '../../helpers/processes.ts';

test('recorded /proc/PID/stat: fields counted after the last parenthesis', () => {
  const s = parseProcStat(readFileSync(join(ROOT, 'test/fixtures/workloads/proc-self-stat.txt'), 'latin1'))!;
  assert.is(s.pid, 19325);
  assert.is(s.comm, 'MainThread');
  assert.is(s.ppid, 19322);
  assert.is(s.cpuTicks, 7 + 3);
  assert.ok(s.rssPages > 0 && s.startTicks > 0);
  const odd = parseProcStat('42 (a) b (c)) S 1 42 42 0 -1 4194560 0 0 0 0 5 6 0 0 20 0 1 0 999 1000 77 0')!;
  assert.is(odd.comm, 'a) b (c)');
  assert.is(odd.ppid, 1);
  assert.is(odd.cpuTicks, 11);
  assert.is(odd.startTicks, 999);
  assert.is(odd.rssPages, 77);
  assert.equal([odd.state, odd.utime, odd.stime, odd.numThreads, odd.vsize], ['S', 5, 6, 1, 1000]);
  const faults = parseProcStat('7 (w) R 1 7 7 0 -1 0 11 0 3 0 1 2 0 0 20 0 4 0 555 1000 25 0')!;
  assert.equal([faults.state, faults.minflt, faults.majflt, faults.numThreads], ['R', 11, 3, 4]);
  assert.is(parseProcStat('garbage'), undefined);
});

test('command lines, passwd, page size', () => {
  assert.is(parseCmdline('nginx: master\0-g\0daemon off;\0'), 'nginx: master -g daemon off;');
  assert.is(parseCmdline(''), '');
  assert.ok(parseCmdline('x'.repeat(5000)).endsWith('…'));
  // Secrets are redacted with the exact argument boundaries, and before the cut: none survives half-cut.
  const token = `muster_0123456789ab_${'A'.repeat(43)}`;
  assert.is(parseCmdline(`app\0--password\0two words\0--join\0${token}\0`), 'app --password <redacted> --join muster_0123456789ab_<redacted>');
  const long = parseCmdline(`app\0${'x'.repeat(2030)}\0--token=${'s'.repeat(40)}\0`);
  assert.ok(long.endsWith('…') && !long.includes('sss'), long.slice(-40));
  const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\n# comment\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n');
  assert.is(users.get(0), 'root');
  assert.is(users.get(33), 'www-data');
  assert.ok([4096, 16384, 65536].includes(readPageSize('/')));
});

test('real host: a child is read with pid, parent, user, command line, start time; unchanged while idle; gone once it ends', async () => {
  const child = spawn('sleep', ['31'], { stdio: 'ignore' });
  const reader = createProcessReader({});
  try {
    const before = Date.now() / 1000;
    const procs = await waitFor('the child', async () => (await reader.read()).find((p) => p.pid === child.pid));
    assert.is(procs.ppid, process.pid);
    assert.is(procs.name, 'sleep');
    assert.is(procs.cmdline, 'sleep 31');
    assert.is(procs.uid, process.getuid!());
    assert.is(procs.user, process.getuid!() === 0 ? 'root' : procs.user);
    assert.ok(Math.abs(procs.startTime - before) < 5, `start time ${procs.startTime} vs ${before}`);
    assert.ok(procs.rssBytes > 0);
    // Idle once it sleeps in nanosleep: before that it may still be loading its libraries (its RSS grows).
    await waitFor('the child asleep', () => /sleep/.test(readFileSync(`/proc/${child.pid}/wchan`, 'utf8')));
    const idle = (await reader.read()).find((p) => p.pid === child.pid);
    const again = (await reader.read()).find((p) => p.pid === child.pid);
    assert.equal(again, idle, 'an idle process reads the same twice');
    const self = (await reader.read()).find((p) => p.pid === process.pid)!;
    assert.ok(self.cpuSeconds > 0, 'this busy test process has used CPU');
    assert.ok(!(await reader.read()).some((p) => p.cmdline === '' && p.ppid === 2), 'no kernel threads');
  } finally {
    child.kill();
  }
  await waitFor('the child to go', async () => !(await reader.read()).some((p) => p.pid === child.pid), 5_000);
});

test.run();
