/**
 * Builds every dashboard into dashboards/*.json (`npm run dashboards`). The
 * JSON is committed; test/dashboards/drift.test.ts fails when it differs from
 * what this code builds.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fleetDashboard } from './fleet.ts';
import { nodeDashboard } from './node.ts';
import { servicesDashboard } from './services.ts';
import { logsDashboard } from './logs.ts';

/** Every dashboard by file name, as the JSON Grafana imports. */
export function buildDashboards(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, builder] of [['fleet', fleetDashboard()], ['node', nodeDashboard()], ['services', servicesDashboard()], ['logs', logsDashboard()]] as const) {
    out[`${file}.json`] = JSON.stringify(builder.build(), null, 2) + '\n';
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  for (const [file, json] of Object.entries(buildDashboards())) {
    writeFileSync(dir + file, json);
    process.stdout.write(`wrote dashboards/${file}\n`);
  }
}
