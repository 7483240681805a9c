/** Debian's real Prometheus on a free loopback port, for tests that prove what it scrapes and queries. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from './processes.ts';

export const PROMETHEUS = '/usr/bin/prometheus';

export interface TestPrometheus {
  url: string;
  proc: ChildProcess;
}

/** Writes `config` to DIR/prometheus.yml, starts Prometheus with its data in DIR/data and waits until it is ready. */
export async function startPrometheus(dir: string, config: string): Promise<TestPrometheus> {
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(PROMETHEUS, [`--config.file=${file}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  await waitFor('Prometheus to be ready', async () => {
    if (proc.exitCode !== null) throw new Error(`prometheus exited: ${log}`);
    return (await fetch(`${url}/-/ready`)).ok;
  }, 30_000, 200);
  return { url, proc };
}
