/**
 * Issue 16's promise for process groups: Debian's prometheus-process-exporter
 * (0.7) and a real agent and hub on this machine read the same configuration
 * file. Every namedprocess_* family process-exporter exposes, muster's
 * /metrics exposes for the node with the same type and label names (plus
 * `instance`); for a group of processes the test starts itself (a `sleep`
 * under a name of its own, matched by comm and a cmdline regex with a named
 * capture in the group's name) both count the same processes and threads.
 *
 * process-exporter runs with its defaults (-threads, -gather-smaps, -children
 * on), the agent with the two flags that turn the same on.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseExposition, PROCESS_EXPORTER, startProcessExporter } from '../helpers/node-exporter.ts';
import { joinToken, missingComponent, scrape, startAgentProcess, startHubProcess, tempDir, waitFor } from '../helpers/processes.ts';
import { AGENT_USAGE, parseAgentArgs, UsageError } from '../../agent/main.ts';

/** A name of its own, within comm's 15 characters. */
const COMM = `mstsleep${process.pid % 1_000_000}`;
const GROUP = `${COMM}:3600`;

test('every namedprocess_* family process-exporter exposes with the same file, muster exposes; a group of our own counts the same', async () => {
  if (!existsSync(PROCESS_EXPORTER)) {
    missingComponent('prometheus-process-exporter', 'apt install prometheus-process-exporter');
    return;
  }
  const dir = tempDir('pe-parity');
  const sleeper = join(dir, COMM);
  copyFileSync('/bin/sleep', sleeper);
  chmodSync(sleeper, 0o755);
  const config = join(dir, 'process-exporter.yml');
  writeFileSync(config, `process_names:
  # our sleeps, named by comm and a capture of the cmdline
  - name: "{{.Comm}}:{{.Matches.secs}}"
    comm:
    - ${COMM}
    cmdline:
    - '\\s(?P<secs>\\d+)$'
  - name: "{{.Comm}}"
    cmdline:
    - '.+'
`);
  const sleeps: ChildProcess[] = [spawn(sleeper, ['3600'], { stdio: 'ignore' }), spawn(sleeper, ['3600'], { stdio: 'ignore' })];
  const pe = await startProcessExporter([`-config.path=${config}`]);
  const hub = await startHubProcess();
  const agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'pe', interval: '2s', args: ['--process-groups', config, '--process-groups-threads', '--process-groups-smaps'] });
  try {
    const text = await waitFor('the sleeps\' group on /metrics', async () => {
      const t = await scrape(hub);
      return t.includes(`namedprocess_namegroup_num_procs{instance="pe",groupname="${GROUP}"}`) ? t : undefined;
    }, 30_000);
    const mine = parseExposition(text.split('\n').filter((l) => l.startsWith('#') || l.includes('instance="pe"')).join('\n'), ['instance']);
    const theirs = parseExposition(await pe!.scrape());
    const problems: string[] = [];
    const compared: string[] = [];
    for (const [family, t] of theirs) {
      if (!family.startsWith('namedprocess_')) continue;
      compared.push(family);
      const o = mine.get(family);
      if (!o) { problems.push(`${family}: process-exporter has it, muster does not`); continue; }
      if (o.type !== t.type) problems.push(`${family}: TYPE ${o.type}, process-exporter's ${t.type}`);
      if (o.labels.join(',') !== t.labels.join(',')) problems.push(`${family}: labels {${o.labels.join(',')}}, process-exporter's {${t.labels.join(',')}}`);
    }
    assert.equal(problems, []);
    assert.ok(compared.length >= 23, `process-exporter's group, thread and scrape families (${compared.length})`);
    for (const family of ['namedprocess_namegroup_num_procs', 'namedprocess_namegroup_num_threads']) {
      const key = `groupname="${GROUP}"`;
      assert.is(mine.get(family)!.series.get(key), 2, `${family}: muster`);
      assert.is(theirs.get(family)!.series.get(key), 2, `${family}: process-exporter`);
    }
    const memtypes = (fams: typeof mine) => [...fams.get('namedprocess_namegroup_memory_bytes')!.series.keys()]
      .filter((k) => k.includes(`groupname="${GROUP}"`)).map((k) => /memtype="(\w+)"/.exec(k)![1]).sort();
    assert.equal(memtypes(mine), memtypes(theirs), 'the same memory types');
    process.stdout.write(`\n  process-exporter: ${compared.length} namedprocess families, all in muster's /metrics\n`);
  } finally {
    for (const s of sleeps) s.kill();
    await agent.stop();
    await hub.stop();
    await pe!.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--process-groups: a file with mistakes is refused with every one of them, as --check does; the flags are in --help', () => {
  const dir = tempDir('pe-flags');
  try {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'process_names:\n  - name: "{{.PID}}"\n    comm: [a]\n  - exe: java\n');
    assert.throws(() => parseAgentArgs(['--hub', 'http://hub.lan:7070', '--process-groups', bad, '--check'], {}), (e: Error) =>
      e instanceof UsageError && e.message === `--process-groups ${bad}:\n  process_names[0].name "{{.PID}}": {{.PID}} would make a group, and series, per process\n  process_names[1].exe must be a list, e.g. exe: [a, b]\n  process_names[1]: no comm, exe or cmdline matcher`);
    assert.throws(() => parseAgentArgs(['--hub', 'http://hub.lan:7070', '--process-groups', join(dir, 'none.yml')], {}), /--process-groups .*none\.yml: ENOENT/);
    const good = join(dir, 'good.yml');
    writeFileSync(good, 'process_names:\n  - comm: [nginx]\n');
    const cfg = parseAgentArgs(['--hub', 'http://hub.lan:7070', '--process-groups', good, '--process-groups-threads'], {});
    assert.ok(typeof cfg === 'object' && cfg.collectorOptions.processGroups?.config?.match({ comm: 'nginx', cmdline: ['/usr/sbin/nginx'], username: 'root', cgroups: [] }) === 'nginx');
    assert.ok(typeof cfg === 'object' && cfg.collectorOptions.processGroups?.threads === true);
    for (const flag of ['--process-groups FILE', '--process-groups-threads', '--process-groups-smaps']) assert.ok(AGENT_USAGE.includes(flag), flag);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
