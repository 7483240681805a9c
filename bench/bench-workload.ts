/**
 * A busy node for the agent bench: Docker containers started from the test
 * image (install/test-host.sh builds muster-test/busybox with `docker import`)
 * and plain processes, so that the agent has a realistic inventory to watch
 * and report. Everything it starts carries the `muster-bench-` prefix and is
 * removed again by stop(), and left-overs of an earlier run are removed first.
 */
import { execFileSync, spawn } from 'node:child_process';

export const BENCH_IMAGE = 'muster-test/busybox';
const PREFIX = 'muster-bench-';

export interface BenchWorkload {
  containers: number;
  processes: number;
  stop(): void;
}

const docker = (args: string[], timeout = 60_000) =>
  execFileSync('docker', args, { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** Removes containers left by an earlier run. */
function removeLeftovers(): void {
  const ids = docker(['ps', '-aq', '--filter', `name=^${PREFIX}`]).split('\n').filter(Boolean);
  if (ids.length) docker(['rm', '-f', ...ids], 120_000);
}

/**
 * Starts `containers` containers (one in five serves HTTP on a published
 * loopback port, all carry a `muster.service` label), then sleeping processes
 * in one process group of their own until the machine runs `processes`
 * processes less `reserve` (those the caller starts afterwards).
 */
export function startBenchWorkload(opts: { containers: number; processes: number; reserve: number; log: (s: string) => void }): BenchWorkload {
  try {
    docker(['image', 'inspect', '--format', '{{.Id}}', BENCH_IMAGE]);
  } catch {
    throw new Error(`the image ${BENCH_IMAGE} is missing (or Docker is not running): run install/test-host.sh, which starts dockerd and builds it`);
  }
  removeLeftovers();
  const started: string[] = [];
  let group: number | undefined;
  const stop = () => {
    if (group !== undefined) {
      try { process.kill(-group, 'SIGKILL'); } catch { /* already gone */ }
      group = undefined;
    }
    if (started.length) {
      try { docker(['rm', '-f', ...started.splice(0)], 120_000); } catch (err) { opts.log(`removing the bench containers failed: ${(err as Error).message}`); }
    }
  };
  try {
    opts.log(`starting ${opts.containers} containers from ${BENCH_IMAGE}`);
    for (let i = 0; i < opts.containers; i++) {
      const name = `${PREFIX}${String(i + 1).padStart(2, '0')}`;
      const web = i % 5 === 0;
      const args = ['run', '-d', '--name', name, '--label', `muster.service=bench-${web ? 'web' : 'worker'}`, '--label', 'com.docker.compose.project=muster-bench'];
      if (web) args.push('-p', '127.0.0.1::80');
      args.push(BENCH_IMAGE, ...(web ? ['httpd', '-f', '-p', '80'] : ['sleep', '86400']));
      docker(args);
      started.push(name);
    }
    // Each container brings its own process and a containerd shim (and a docker-proxy per published port).
    const sleepers = Math.max(0, opts.processes - opts.reserve - processCount() - 1);
    opts.log(`starting ${sleepers} sleeping processes`);
    const sh = spawn('sh', ['-c', `i=0; while [ $i -lt ${sleepers} ]; do sleep 86400 & i=$((i+1)); done; wait`], { detached: true, stdio: 'ignore' });
    group = sh.pid;
    sh.unref();
    return { containers: opts.containers, processes: sleepers, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

/** Processes on the machine now (numeric entries of /proc). */
export function processCount(): number {
  return Number(execFileSync('sh', ['-c', 'ls /proc | grep -c "^[0-9]"'], { encoding: 'utf8' }).trim());
}
