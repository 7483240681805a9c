/**
 * muster's collectors and Debian's node_exporter 1.5, run over the same
 * recorded /proc and /sys trees (a Debian VM on Linux 6.18, a Raspberry Pi 4
 * on 6.6 written by hand, node_exporter's own fixtures): every series
 * node_exporter reports there, muster reports with the same type, labels and
 * value. Families that depend on something outside the tree are left out:
 * uname (a system call), time (the clock), filesystem (statfs of real
 * mounts), textfile, and node_exporter's own (go_*, process_*, promhttp_*).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { cpSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createMetricsCollector } from '../../../agent/collectors/registry.ts';
import { MISSING_COLLECTORS, nodeCollectors } from '../../../agent/collectors/node-collectors.ts';
import { createExpositionWriter } from '../../../hub/metrics/exposition.ts';
import { parseExposition, startNodeExporter, NODE_EXPORTER, type ScrapedFamily } from '../../helpers/node-exporter.ts';
import { missingComponent, tempDir } from '../../helpers/processes.ts';
import { extractTtar } from '../../helpers/ttar.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/host/${name}`, import.meta.url));

/** A fixture tree ready to read: a tree with a sys.ttar (cyclic sysfs symlinks) is copied and its archive extracted beside. */
function treeOf(name: string): { root: string; done: () => void } {
  const src = fixture(name);
  if (!existsSync(join(src, 'sys.ttar'))) return { root: src, done: () => {} };
  const root = tempDir(`fixture-${name}`);
  cpSync(src, root, { recursive: true, verbatimSymlinks: true });
  extractTtar(readFileSync(join(src, 'sys.ttar'), 'utf8'), root);
  return { root, done: () => rmSync(root, { recursive: true, force: true }) };
}

/** Families compared only by their labels and series, not values: they read the clock or statfs. */
const NOT_FROM_THE_TREE = /^(go_|process_|promhttp_|node_exporter_build_info$|node_uname_info$|node_time_|node_filesystem_|node_textfile_|node_scrape_collector_duration_seconds$|node_timex_)/;

/** Runs muster's collectors over a tree and renders them as the hub would, without `instance`. */
async function musterOver(root: string): Promise<Map<string, ScrapedFamily>> {
  const c = createMetricsCollector({ registry: nodeCollectors(), root, now: () => 1_700_000_000_000 });
  const fams = await c.collect();
  const w = createExpositionWriter();
  for (const f of fams) {
    const add = w.family(f.name, f.type, f.help);
    const n = f.labels.length;
    f.values.forEach((v, i) => add.line(f.labels.map((l, j) => `${l}="${f.labelValues[i * n + j]!.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(','), v));
  }
  return parseExposition(w.text().replace(/\{\}/g, ''));
}

for (const name of ['debian-vm', 'pi', 'node-exporter-1.5']) {
  test(`${name}: every family node_exporter reads from the tree, muster reports the same`, async () => {
    if (!existsSync(NODE_EXPORTER)) {
      missingComponent('prometheus-node-exporter', 'apt install prometheus-node-exporter');
      return;
    }
    const { root, done } = treeOf(name);
    const ne = await startNodeExporter([
      `--path.procfs=${root}/proc`, `--path.sysfs=${root}/sys`, `--path.rootfs=${root}`, `--path.udev.data=${root}/run/udev/data`,
      '--no-collector.netdev.netlink', '--no-collector.systemd', '--no-collector.timex',
    ]);
    let theirs: Map<string, ScrapedFamily>;
    try {
      theirs = parseExposition(await ne!.scrape());
    } finally {
      await ne!.stop();
    }
    const ours = await musterOver(root);
    done();
    const problems: string[] = [];
    let compared = 0;
    for (const [family, t] of theirs) {
      if (/^(go_|process_|promhttp_|node_exporter_build_info$)/.test(family)) continue;
      if (Object.values(MISSING_COLLECTORS).some((m) => family.startsWith(m.families))) continue;
      // node_exporter asks uname(2), which a tree cannot answer; muster reads /proc/sys/kernel, which this tree lacks.
      if (family === 'node_uname_info' && !existsSync(join(root, 'proc/sys/kernel/osrelease'))) continue;
      const o = ours.get(family);
      if (!o) { problems.push(`${family}: missing`); continue; }
      if (o.type !== t.type) problems.push(`${family}: type ${o.type}, node_exporter ${t.type}`);
      if (o.labels.join(',') !== t.labels.join(',')) problems.push(`${family}: labels ${o.labels.join(',')}, node_exporter ${t.labels.join(',')}`);
      if (NOT_FROM_THE_TREE.test(family)) continue;
      for (const [labels, v] of t.series) {
        const collector = /^collector="(.*)"$/.exec(labels)?.[1];
        if (family === 'node_scrape_collector_success' && collector && (collector in MISSING_COLLECTORS || ['uname', 'time', 'filesystem', 'textfile'].includes(collector))) continue;
        const mine = o.series.get(labels);
        compared++;
        if (mine === undefined) problems.push(`${family}{${labels}}: missing`);
        else if (Math.abs(mine - v) > 1e-9 * Math.max(1, Math.abs(v))) problems.push(`${family}{${labels}}: ${mine}, node_exporter ${v}`);
      }
    }
    assert.ok(compared > 50, `only ${compared} series compared`);
    assert.equal(problems, []);
  });
}

test.run();
