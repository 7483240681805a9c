/**
 * The promise of issue 16: uninstall node_exporter, install a muster agent,
 * and every board keeps working. Debian's prometheus-node-exporter (1.5,
 * default collectors, systemd off as the issue measured it) runs beside a
 * real agent and hub on this machine; every family node_exporter exposes,
 * muster's /metrics must expose for the node with the same type and label
 * names (plus `instance`), and the same value where the value is static.
 *
 * The exceptions are listed, each with its reason: node_exporter's own
 * process (go_*, process_*, promhttp_*, node_exporter_build_info; muster's
 * agent reports itself as muster_agent_info), and the collectors muster does
 * not have (MISSING_COLLECTORS in agent/collectors/node-collectors.ts:
 * timex on every machine, the others only with their hardware).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MISSING_COLLECTORS } from '../../agent/collectors/node-collectors.ts';
import { NODE_EXPORTER, parseExposition, startNodeExporter } from '../helpers/node-exporter.ts';
import { joinToken, missingComponent, scrape, startAgentProcess, startHubProcess, waitFor } from '../helpers/processes.ts';
import { existsSync } from 'node:fs';

/** Families of node_exporter's own process: an exporter's runtime, not the node. */
const EXPORTER_ITSELF = /^(go_|process_|promhttp_|node_exporter_build_info$)/;

/** Families whose value is the same for both whenever both read at about the same time. */
const STATIC = [
  'node_memory_MemTotal_bytes', 'node_memory_SwapTotal_bytes', 'node_boot_time_seconds', 'node_filefd_maximum', 'node_entropy_pool_size_bits',
  'node_os_info', 'node_os_version', 'node_uname_info', 'node_network_mtu_bytes', 'node_network_info', 'node_filesystem_size_bytes',
  'node_filesystem_readonly', 'node_disk_info', 'node_time_clocksource_current_info', 'node_nf_conntrack_entries_limit', 'node_network_up',
];

test('every family node_exporter exposes on this machine, muster exposes for the node: same type, labels, static values', async () => {
  if (!existsSync(NODE_EXPORTER)) {
    missingComponent('prometheus-node-exporter', 'apt install prometheus-node-exporter');
    return;
  }
  const ne = await startNodeExporter(['--no-collector.systemd']);
  const hub = await startHubProcess();
  const agent = startAgentProcess({ hub: hub.url, join: await joinToken(hub), name: 'parity', interval: '2s' });
  try {
    // Families appear as the agent's first snapshot lands; a delta later the rarer ones are in too.
    const ours = await waitFor('the agent\'s families on /metrics', async () => {
      const text = await scrape(hub);
      return text.includes('node_scrape_collector_success{instance="parity"') ? text : undefined;
    }, 30_000);
    const theirs = parseExposition(await ne!.scrape());
    const mine = parseExposition(ours.split('\n').filter((l) => l.startsWith('#') || l.includes('instance="parity"')).join('\n'), ['instance']);
    const missingCollector = (family: string) => Object.entries(MISSING_COLLECTORS).find(([, m]) => family.startsWith(m.families))?.[0];
    const problems: string[] = [];
    const excepted: string[] = [];
    for (const [family, t] of theirs) {
      if (EXPORTER_ITSELF.test(family)) continue;
      const missing = missingCollector(family);
      if (missing) {
        excepted.push(`${family} (${missing})`);
        continue;
      }
      const o = mine.get(family);
      if (!o) { problems.push(`${family}: node_exporter has it, muster does not`); continue; }
      if (o.type !== t.type) problems.push(`${family}: TYPE ${o.type}, node_exporter's ${t.type}`);
      if (o.labels.join(',') !== t.labels.join(',')) problems.push(`${family}: labels {${o.labels.join(',')}}, node_exporter's {${t.labels.join(',')}}`);
    }
    for (const family of STATIC) {
      const t = theirs.get(family);
      const o = mine.get(family);
      if (!t || !o) continue;
      for (const [labels, v] of t.series) {
        const m = o.series.get(labels);
        if (m === undefined) problems.push(`${family}{${labels}}: node_exporter has this series, muster does not`);
        else if (Math.abs(m - v) > 1e-9 * Math.max(1, Math.abs(v))) problems.push(`${family}{${labels}}: ${m}, node_exporter says ${v}`);
      }
    }
    process.stdout.write(`\n  node_exporter: ${[...theirs.keys()].filter((f) => !EXPORTER_ITSELF.test(f)).length} node families; muster: ${mine.size}; excepted: ${excepted.join(', ') || 'none'}\n`);
    assert.equal(problems, []);
  } finally {
    await agent.stop();
    await hub.stop();
    await ne!.stop();
  }
});

test.run();
