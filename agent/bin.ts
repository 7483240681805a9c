/** Entry point of the bundled agent (dist/muster-agent.js). */
import { runAgentCommand } from './main.ts';

runAgentCommand({
  argv: process.argv.slice(2),
  env: process.env,
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
}).then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`muster agent: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
