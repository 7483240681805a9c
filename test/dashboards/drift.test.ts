import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildDashboards } from '../../dashboards/build.ts';
import { ROOT } from '../helpers/processes.ts';

test('the committed dashboard JSON is exactly what the code builds (run npm run dashboards after a change)', () => {
  const built = buildDashboards();
  const committed = readdirSync(join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
  assert.equal(committed, Object.keys(built).sort(), 'one JSON file per dashboard, no strays');
  for (const [file, json] of Object.entries(built)) {
    assert.ok(json === readFileSync(join(ROOT, 'dashboards', file), 'utf8'), `dashboards/${file} differs from what dashboards/*.ts build: run npm run dashboards`);
  }
});

test('every dashboard takes its datasources from variables', () => {
  for (const [file, json] of Object.entries(buildDashboards())) {
    const d = JSON.parse(json) as { templating: { list: { name: string; type: string }[] }; uid: string };
    assert.ok(d.templating.list.some((v) => v.type === 'datasource' && v.name === 'datasource'), `${file} has a datasource variable`);
    assert.not.match(json, /"uid": "(?!\$\{)[^"]*"[^}]*"type": "prometheus"/, `${file} names no fixed Prometheus uid`);
    assert.match(d.uid, /^muster-/);
  }
});

test.run();
