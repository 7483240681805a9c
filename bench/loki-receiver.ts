/**
 * The strict Loki stand-in of the tests (test/helpers/loki.ts) as a process
 * of its own, for bench/logs.ts to pin away from the hub. It prints its URL,
 * then every second the entries it has taken and the pushes it refused. Only
 * the newest entry of each stream is kept (all the stand-in's order checks
 * need), so a long run does not fill the memory.
 *
 *   node bench/loki-receiver.ts   ->  "loki stand-in at http://127.0.0.1:PORT"
 *                                     "taken N refused M"  (every second)
 */
import { startLokiStandIn } from '../test/helpers/loki.ts';

const loki = await startLokiStandIn();
process.stdout.write(`loki stand-in at ${loki.url}\n`);
let taken = 0;
let seenPushes = 0;
let refused = 0;
const report = () => {
  for (const s of loki.streams.values()) {
    if (s.entries.length > 1) {
      taken += s.entries.length - 1;
      s.entries.splice(0, s.entries.length - 1);
    }
  }
  const held = [...loki.streams.values()].reduce((n, s) => n + s.entries.length, 0);
  for (; seenPushes < loki.pushes.length; seenPushes++) if (loki.pushes[seenPushes]!.status !== 204) refused++;
  loki.pushes.length = 0;
  seenPushes = 0;
  process.stdout.write(`taken ${taken + held} refused ${refused}\n`);
};
setInterval(report, 1_000);
const stop = () => { report(); void loki.close().finally(() => process.exit(0)); };
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
