/**
 * How fast `muster` starts, the two ways the package could ship it: the
 * TypeScript sources run by Node's type stripping (a launcher on the `node`
 * package), or compiled to one JavaScript module at pack time
 * (install/build-cli.ts). The same Node runs both, alternating; the command
 * is `muster --version` (module loading, nothing else) and `muster nodes
 * --help` (the same plus a subcommand's module graph).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseFlags, UsageError } from './bench-args.ts';
import { median, percentile } from './stats.ts';
import { fixed, formatTable } from './table.ts';

const USAGE = `Usage: node bench/cli-startup.ts [--runs 30] [--json]

Times 'muster --version' and 'muster nodes --help' from the TypeScript sources
(type stripping) and from the compiled dist/muster.mjs (npm run build first),
alternating, with this Node.
`;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

function run(): number {
  const { values } = parseFlags(process.argv.slice(2), { runs: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const runs = Number(values.runs ?? '30');
  if (!Number.isInteger(runs) || runs < 3) throw new UsageError('--runs must be a whole number of at least 3');
  if (!existsSync(`${ROOT}dist/muster.mjs`)) throw new Error('no dist/muster.mjs: run npm run build first');
  const ways = { 'type stripping (cli/muster.ts)': `${ROOT}cli/muster.ts`, 'compiled (dist/muster.mjs)': `${ROOT}dist/muster.mjs` };
  const commands = [['--version'], ['nodes', '--help']];
  const times = new Map<string, number[]>();
  for (let i = 0; i < runs; i++) {
    for (const args of commands) {
      for (const [way, file] of Object.entries(ways)) {
        const t = performance.now();
        const r = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8' });
        const ms = performance.now() - t;
        if (r.status !== 0) throw new Error(`${way} ${args.join(' ')} failed: ${r.stderr}`);
        const key = `${way}|${args.join(' ')}`;
        (times.get(key) ?? times.set(key, []).get(key)!).push(ms);
      }
    }
  }
  const rows = [...times.entries()].map(([key, t]) => { const [way, cmd] = key.split('|') as [string, string]; return { way, cmd, median: median(t), p90: percentile(t, 0.9) }; });
  process.stderr.write(`\n${formatTable(['how', 'command', 'median', 'p90'], rows.map((r) => [r.way, `muster ${r.cmd}`, fixed(r.median, 1, ' ms'), fixed(r.p90, 1, ' ms')]))}\n${runs} runs each, alternating, node ${process.version}\n`);
  if (values.json) process.stdout.write(JSON.stringify({ bench: 'cli-startup', node: process.version, runs, results: rows }, null, 2) + '\n');
  return 0;
}

try {
  process.exitCode = run();
} catch (err) {
  if (err instanceof UsageError) { process.stderr.write(`${err.message}\n\n${USAGE}`); process.exitCode = 2; } else throw err;
}
