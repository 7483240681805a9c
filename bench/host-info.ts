/** Facts about the machine a bench runs on, for its report and its preflight checks. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The CPU model, the number of CPUs and the kernel release. */
export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  kernel: string;
}

/** Reads the CPU model and count from /proc/cpuinfo and the kernel release from /proc. */
export function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const cpus = cpuinfo.split('\n').filter((l) => /^processor\s*:/.test(l)).length;
  const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  return { cpuModel, cpus, kernel };
}

/** The soft and hard limits on open files of this process; children inherit them. */
export function openFilesLimit(): { soft: number; hard: number } {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const num = (s: string | undefined) => (s === undefined || s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  return { soft: num(m?.[1]), hard: num(m?.[2]) };
}

/** Processes forked on the whole machine since boot (`processes` in /proc/stat): the machine's churn, read twice. */
export function forksSinceBoot(): number {
  const m = /^processes\s+(\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
  return m ? Number(m[1]) : 0;
}

/**
 * Docker events (container starts, stops, execs, network changes...) between
 * two times in ms since the epoch, or undefined without a reachable Docker.
 * Each one makes the agent read its workloads again, so a busy Docker shows
 * in the agent's CPU.
 */
export function dockerEventsBetween(fromMs: number, toMs: number): number | undefined {
  try {
    const out = execFileSync('docker', ['events', '--since', (fromMs / 1000).toFixed(3), '--until', (toMs / 1000).toFixed(3), '--format', '{{.Type}}'], {
      encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.split('\n').filter(Boolean).length;
  } catch {
    return undefined;
  }
}
