/**
 * Who owns a process, from /proc/PID/cgroup: the Docker (or podman,
 * containerd, CRI) container it runs in, or else the innermost systemd unit
 * (`nginx.service`, `session-3.scope`). Works for cgroup v2 (`0::/path`) and
 * v1/hybrid (`12:memory:/docker/<id>`, `1:name=systemd:/system.slice/x.service`).
 */
import type { Owner } from '../../protocol/workloads.ts';

const CONTAINER_PATTERNS: RegExp[] = [
  /(?:^|\/)docker-([0-9a-f]{64})\.scope(?:\/|$)/, // systemd cgroup driver
  /(?:^|\/)docker\/([0-9a-f]{64})(?:\/|$)/, // cgroupfs driver
  /(?:^|\/)libpod-([0-9a-f]{64})\.scope(?:\/|$)/, // podman
  /(?:^|\/)cri-containerd-([0-9a-f]{64})\.scope(?:\/|$)/, // containerd CRI, systemd driver
  /(?:^|\/)crio-([0-9a-f]{64})\.scope(?:\/|$)/, // CRI-O
  /\/kubepods[^\n]*\/([0-9a-f]{64})(?:\/|$)/, // kubepods, cgroupfs driver
];

/** The lines of /proc/PID/cgroup (`hierarchy:controllers:path`): controllers are '' for v2's line, `name=systemd`, or `cpu,cpuacct`... */
export function cgroupLines(text: string): { controllers: string; path: string }[] {
  const out: { controllers: string; path: string }[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const path = line.slice(second + 1).trim();
    if (path) out.push({ controllers: line.slice(first + 1, second), path });
  }
  return out;
}

/** The cgroup path that tells the most: the v2 line, else the systemd hierarchy, else any line naming a container. */
function paths(text: string): string[] {
  return cgroupLines(text)
    .map(({ controllers, path }) => ({ rank: controllers === '' ? 0 : controllers === 'name=systemd' ? 1 : 2, path }))
    .sort((a, b) => a.rank - b.rank).map((p) => p.path);
}

/** Parses /proc/PID/cgroup into the owning container or unit; `{}` for neither. */
export function parseCgroupOwner(text: string): Owner {
  const all = paths(text);
  for (const path of all) {
    for (const re of CONTAINER_PATTERNS) {
      const m = re.exec(path);
      if (m) return { containerId: m[1]! };
    }
  }
  // The unit from the unified or systemd hierarchy only: other v1 controllers are often flat ('/').
  const unitPath = all.find((p) => p !== '/') ?? '';
  const parts = unitPath.split('/').filter(Boolean);
  for (let i = parts.length - 1; i >= 0; i--) {
    const part = parts[i]!;
    if (/\.(service|scope)$/.test(part)) return { unit: part };
  }
  return {};
}
