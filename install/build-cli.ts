/**
 * Compiles the `muster` command for the npm package (npm pack runs it):
 * dist/muster.mjs and its chunks (dist/*-HASH.mjs, one per group of commands), our
 * own code as ES modules with every npm dependency left external
 * (better-sqlite3 is native, the others install as usual), and
 * dist/checkpoint-worker.mjs beside it. Node refuses to strip types from
 * files under node_modules, so an installed `muster` must be JavaScript;
 * this also starts faster than type stripping (bench/README.md).
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';

const root = fileURLToPath(new URL('..', import.meta.url));
mkdirSync(`${root}dist`, { recursive: true });

const common = {
  bundle: true,
  platform: 'node' as const,
  target: 'node22',
  format: 'esm' as const,
  packages: 'external' as const,
  sourcemap: false,
  legalComments: 'none' as const,
  logLevel: 'warning' as const,
  outExtension: { '.js': '.mjs' },
};

// Commands are loaded on demand (cli/muster.ts): each becomes a chunk of its own, beside the entry, since
// the hub finds its worker and the agent bundle relative to its own module (import.meta.url).
for (const f of readdirSync(`${root}dist`)) if (/^(muster|checkpoint-worker|chunk-|[a-z]+-)[A-Za-z0-9-]*\.mjs$/.test(f)) rmSync(`${root}dist/${f}`);
await build({
  ...common, splitting: true, chunkNames: '[name]-[hash]',
  entryPoints: { muster: `${root}cli/muster.ts`, 'checkpoint-worker': `${root}hub/checkpoint-worker.ts` }, outdir: `${root}dist`, minify: false,
});
for (const f of ['muster.mjs', 'checkpoint-worker.mjs']) console.log(`built ${root}dist/${f} (${Math.round(statSync(`${root}dist/${f}`).size / 1024)} KiB)`);
