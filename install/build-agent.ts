/**
 * Bundles the agent into one JavaScript file with no native modules
 * (dist/muster-agent.js) that runs on Node >= 18, e.g. a 32-bit Raspberry Pi.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { statSync, writeFileSync, mkdirSync } from 'node:fs';
import { MUSTER_VERSION } from '../protocol/version.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${root}dist/muster-agent.js`;

// The bundle is CommonJS (Node 18 runs it anywhere as a plain .js); dist/ says so, as this package is ESM.
mkdirSync(`${root}dist`, { recursive: true });
writeFileSync(`${root}dist/package.json`, '{ "type": "commonjs" }\n');

await build({
  entryPoints: [`${root}agent/bin.ts`],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node18',
  format: 'cjs',
  // MUSTER_AGENT_NAMES=1 keeps the identifiers (still one file, whitespace cut): a --cpu-prof of it names the functions.
  minify: process.env.MUSTER_AGENT_NAMES !== '1',
  ...(process.env.MUSTER_AGENT_NAMES === '1' ? { minifyWhitespace: true, minifySyntax: true } : {}),
  sourcemap: false,
  legalComments: 'none',
  // ws loads these optional native speed-ups inside try/catch; the agent does without them.
  external: ['bufferutil', 'utf-8-validate'],
  // The second line names the version: the hub reads it to know what it would push (hub/agent-bundle.ts).
  banner: { js: `#!/usr/bin/env node\n// muster-agent ${MUSTER_VERSION}` },
  logLevel: 'warning',
});
console.log(`built ${outfile} (${Math.round(statSync(outfile).size / 1024)} KiB)`);
