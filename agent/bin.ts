/** Entry point of the bundled agent (dist/muster-agent.js). */
import { ensureAgentRuntime } from './runtime-flags.ts';

// Before anything else is loaded: a re-exec with the agent's Node flags replaces this process.
ensureAgentRuntime(process);

// Loaded only now (esbuild keeps the module lazy), so a re-exec does not evaluate the whole agent first.
import('./main.ts').then(({ runAgentCommand }) => runAgentCommand({
  argv: process.argv.slice(2),
  env: process.env,
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
})).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`muster agent: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
