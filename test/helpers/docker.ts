/**
 * The real Docker Engine for tests: whether it is there, a `docker` CLI
 * wrapper, and the local test image install/test-host.sh builds (no registry
 * is reachable, so images come from `docker import`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { missingComponent } from './processes.ts';

const run = promisify(execFile);

/** The image install/test-host.sh builds from Debian's busybox-static. */
export const TEST_IMAGE = 'muster-test/busybox:latest';
/** Every container a test starts carries this label, so cleanup finds strays. */
export const TEST_LABEL = 'muster.test=1';

/** Runs `docker ARGS...`; resolves with trimmed stdout, rejects with stderr in the message. */
export async function docker(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('docker', args, { timeout: 60_000 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`docker ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/**
 * True when the daemon answers and the test image exists; otherwise reports
 * the missing component (CI treats that as a failure) and returns false.
 */
export async function dockerReady(): Promise<boolean> {
  try {
    await docker('info', '--format', '{{.ServerVersion}}');
  } catch (err) {
    missingComponent('Docker Engine', `bash install/test-host.sh installs and starts it: ${(err as Error).message.split('\n')[0]}`);
    return false;
  }
  try {
    await docker('image', 'inspect', TEST_IMAGE);
  } catch {
    missingComponent(`the test image ${TEST_IMAGE}`, 'bash install/test-host.sh builds it');
    return false;
  }
  return true;
}

/** Removes every container a test left behind with the given name prefix. */
export async function removeTestContainers(prefix: string): Promise<void> {
  const ids = await docker('ps', '-aq', '--filter', `label=${TEST_LABEL}`, '--filter', `name=^${prefix}`).catch(() => '');
  if (ids) await docker('rm', '-f', ...ids.split('\n')).catch(() => '');
}
