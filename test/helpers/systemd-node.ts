/**
 * A fresh Debian 12 machine for install tests: the image
 * install/debian-test-image.sh builds with debootstrap (systemd, curl,
 * ca-certificates, Debian's nodejs 18), booted in a container with systemd as
 * PID 1 on the host's network, so a hub a test starts on 127.0.0.1 is
 * reachable from it. `docker restart` is its reboot.
 */
import { execFile } from 'node:child_process';
import { docker, dockerReady, TEST_LABEL } from './docker.ts';
import { missingComponent, waitFor } from './processes.ts';

/** The image install/debian-test-image.sh builds (install/test-host.sh runs it). */
export const DEBIAN_NODE_IMAGE = 'muster-test/debian-node:12';

/** What a command run on the machine gave. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One booted machine. */
export interface SystemdNode {
  /** The container's name, also its host name. */
  name: string;
  /** Runs `sh -c SCRIPT` as root on the machine; never rejects for a non-zero exit. */
  exec(script: string, timeoutMs?: number): Promise<ExecResult>;
  /** Like exec, but rejects unless the script exits 0; resolves with its trimmed stdout. */
  sh(script: string, timeoutMs?: number): Promise<string>;
  /** Shuts the machine down cleanly (systemd's halt signal) and boots it again. */
  reboot(): Promise<void>;
  /** Removes the machine. */
  destroy(): Promise<void>;
}

/**
 * True when Docker answers and the image exists; otherwise reports the
 * missing component (CI counts that as a failure) and returns false.
 */
export async function systemdNodeReady(): Promise<boolean> {
  if (!(await dockerReady())) return false;
  try {
    await docker('image', 'inspect', DEBIAN_NODE_IMAGE);
    return true;
  } catch {
    missingComponent(`the image ${DEBIAN_NODE_IMAGE}`, 'bash install/test-host.sh builds it with debootstrap (install/debian-test-image.sh)');
    return false;
  }
}

function run(args: string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile('docker', args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code === -1 ? err.message : '') });
    });
  });
}

/** Waits until systemd has finished booting the machine (running, or degraded by a unit of no concern). */
async function booted(name: string): Promise<void> {
  await waitFor(`${name} to finish booting`, async () => {
    const r = await run(['exec', name, 'systemctl', 'is-system-running'], 10_000);
    const state = r.stdout.trim();
    if (state === 'running' || state === 'degraded') return true;
    return false;
  }, 60_000, 250);
}

/**
 * Boots a machine named `name` (a test's prefix and pid make it unique).
 * `volumes` are extra `-v` mounts, e.g. this checkout for the hub's install.
 */
export async function startSystemdNode(opts: { name: string; volumes?: string[] }): Promise<SystemdNode> {
  const { name } = opts;
  await docker('rm', '-f', name).catch(() => '');
  await docker('run', '-d', '--name', name, '--hostname', name, '-l', TEST_LABEL,
    // systemd shuts down on SIGRTMIN+3: docker stop and restart are a clean halt, as a reboot is.
    '--stop-signal', 'SIGRTMIN+3',
    '--cap-add', 'SYS_ADMIN', '--tmpfs', '/run', '--tmpfs', '/run/lock', '--tmpfs', '/tmp',
    '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--cgroupns=host', '--network', 'host',
    ...(opts.volumes ?? []).flatMap((v) => ['-v', v]),
    DEBIAN_NODE_IMAGE, '/lib/systemd/systemd');
  const node: SystemdNode = {
    name,
    exec: (script, timeoutMs = 120_000) => run(['exec', name, 'sh', '-c', script], timeoutMs),
    async sh(script, timeoutMs) {
      const r = await node.exec(script, timeoutMs);
      if (r.code !== 0) throw new Error(`on ${name}: ${script}\nexit ${r.code}\n${r.stdout}${r.stderr}`);
      return r.stdout.trim();
    },
    async reboot() {
      await docker('restart', '--time', '30', name);
      await booted(name);
    },
    async destroy() {
      await docker('rm', '-f', name).catch(() => '');
    },
  };
  try {
    await booted(name);
  } catch (err) {
    await node.destroy();
    throw err;
  }
  return node;
}
