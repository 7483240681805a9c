/**
 * What this agent lets a deploy do to its node. The hub is trusted to send
 * jobs, not to decide what runs as root here: whoever holds an admin token or
 * impersonates the hub could otherwise mount `/` into a container and chroot
 * into it. So bind mounts of host paths, privileges, host namespaces and unit
 * actions are checked here, against the agent's own flags, before anything
 * is pulled, created or started.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { DEPLOY_FIELDS } from '../protocol/hub-checks.ts';
import type { ContainerSpec, DeployAction } from '../protocol/index.ts';

/** What this agent may deploy; everything absent is refused. */
export interface DeployPolicy {
  /** False with `muster agent --no-deploy`. */
  enabled: boolean;
  /** Image patterns (`*` matches anything, `registry.lab/*`); absent = any image. */
  allowImages?: string[];
  /** Host paths (`--allow-bind`) that may be bind-mounted, with what is under them. */
  allowBinds?: string[];
  /** `--allow-privileged`: privileged containers, devices, added capabilities. */
  allowPrivileged?: boolean;
  /** `--allow-host-namespaces`: the host's network and PID namespaces. */
  allowHostNamespaces?: boolean;
  /** `--allow-unit` patterns: when given, only matching units may be acted on. */
  allowUnits?: string[];
}

/**
 * Units no deploy may touch, whatever the flags: the ways back into the node
 * (ssh, login consoles, the network), systemd and D-Bus themselves, targets
 * (starting `reboot.target` or `poweroff.target` takes the node down), and
 * the agent that would carry out the next fix.
 */
export const PROTECTED_UNITS: readonly string[] = [
  'ssh*', 'sshd*', 'systemd-*', 'dbus*', 'networking*', 'NetworkManager*', 'network-manager*',
  'getty@*', 'serial-getty@*', '*.target', 'muster-agent.service',
];

/** Docker's rule for a named volume; any other source that is not an absolute path is refused. */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Why a host path could not be resolved (a loop, a file in the middle, no permission). */
export class HostPathError extends Error {
  readonly code = 'MUSTER_ERR_HOST_PATH';
}

/**
 * Resolves an absolute host path component by component, as the kernel walks
 * it: a symlink is replaced by its target before a `..` after it is applied,
 * and `..` is the parent of where the walk really is. Components that do not
 * exist are kept as they are (Docker creates them as directories, so `..`
 * after one is its parent). The result has no `..` and no symlink among its
 * existing components, so mounting it mounts what was checked.
 */
export function resolveHostPath(path: string, maxLinks = 40): string {
  if (!path.startsWith('/')) throw new HostPathError(`${path} is not an absolute path`);
  const todo = path.split('/').filter(Boolean);
  let at = '/';
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '.') continue;
    if (c === '..') { at = posix.dirname(at); continue; }
    const next = posix.join(at, c);
    let st;
    try {
      st = lstatSync(next);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') { at = next; continue; }
      throw new HostPathError(`${path}: ${(err as Error).message}`);
    }
    if (st.isSymbolicLink()) {
      if (++links > maxLinks) throw new HostPathError(`${path}: too many levels of symbolic links`);
      const target = readlinkSync(next);
      todo.unshift(...target.split('/').filter(Boolean));
      // A relative target continues from the link's directory, which is where the walk is.
      if (target.startsWith('/')) at = '/';
      continue;
    }
    if (!st.isDirectory() && todo.some((x) => x !== '.')) throw new HostPathError(`${path}: ${next} is not a directory`);
    at = next;
  }
  return at;
}

/** Whether `path` is `root` or under it; both resolved, absolute, without a trailing slash. */
const under = (path: string, root: string) => root === '/' || path === root || path.startsWith(`${root}/`);

/** A `*` glob, anchored; every other character is itself. */
function glob(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Whether a unit name matches a pattern; a pattern without a suffix also matches as `PATTERN.service`. */
export function unitMatches(unit: string, pattern: string): boolean {
  return glob(pattern).test(unit) || (!pattern.includes('.') && glob(`${pattern}.service`).test(unit));
}

/** The systemd unit a process runs in, from the text of /proc/PID/cgroup (v2 or v1's name=systemd line). */
export function unitOfCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^(?:0:|\d+:name=systemd):(.*)$/.exec(line.trim());
    const unit = m?.[1]!.split('/').reverse().find((seg) => /\.service$/.test(seg));
    if (unit) return unit;
  }
  return undefined;
}

/** Fields of a deploy action this agent does not know; any of them makes it refuse the job. */
export function unknownFields(a: DeployAction): string[] {
  const extra = (where: string, obj: unknown, known: readonly string[]) =>
    typeof obj === 'object' && obj !== null ? Object.keys(obj).filter((k) => !known.includes(k)).map((k) => `${where}${k}`) : [];
  const kinds: Readonly<Record<string, readonly string[]>> = DEPLOY_FIELDS.action;
  const fields = Object.hasOwn(kinds, a.kind) ? kinds[a.kind] : undefined;
  if (!fields) return [`kind ${String(a.kind)}`];
  const out = extra('', a, fields);
  if (a.kind === 'run' || a.kind === 'replace') {
    const c = a.container;
    out.push(...extra('container.', c, DEPLOY_FIELDS.container));
    c.ports?.forEach((p, i) => out.push(...extra(`container.ports[${i}].`, p, DEPLOY_FIELDS.port)));
    c.volumes?.forEach((v, i) => out.push(...extra(`container.volumes[${i}].`, v, DEPLOY_FIELDS.volume)));
    c.devices?.forEach((d, i) => out.push(...extra(`container.devices[${i}].`, d, DEPLOY_FIELDS.device)));
  }
  return out;
}

export interface DeployPolicyDeps {
  policy: DeployPolicy;
  /** A Docker network's driver (`host`, `bridge`...), or undefined when there is none by that name. */
  networkDriver: (name: string) => Promise<string | undefined>;
  /** Every name systemd knows a unit by (its id and its aliases); empty when it cannot tell. */
  unitNames: (unit: string) => Promise<string[]>;
  /** The unit this agent itself runs in, when it runs in one: protected like muster-agent.service. */
  ownUnit?: string;
}

/** The policy's answer: every reason to refuse (empty: go ahead), and the action to run. */
export interface PolicyVerdict {
  refusals: string[];
  /** The action with every bind source replaced by the host path it resolved to, so Docker mounts what was checked. */
  action: DeployAction;
}

/** Checks deploy actions against the agent's policy. */
export interface DeployPolicyCheck {
  check(a: DeployAction): Promise<PolicyVerdict>;
}

/** Networks Docker makes itself that are not the host's. */
const PLAIN_NETWORKS = new Set(['bridge', 'default', 'none']);

/** Creates the check; it holds nothing, so there is nothing to close. */
export function createDeployPolicy(deps: DeployPolicyDeps): DeployPolicyCheck {
  const { policy } = deps;
  const protectedUnits = [...PROTECTED_UNITS, ...(deps.ownUnit ? [deps.ownUnit] : [])];

  /** Allowed roots, resolved at each check: a root that is a symlink, or appears later, still means where it points. */
  const allowedRoots = () => (policy.allowBinds ?? []).flatMap((r) => {
    try {
      return [resolveHostPath(r)];
    } catch {
      return [];
    }
  });

  async function checkContainer(spec: ContainerSpec, refusals: string[]): Promise<ContainerSpec> {
    const roots = allowedRoots();
    const volumes = spec.volumes.map((v) => {
      if (v.source.includes(':') || v.target.includes(':') || !v.target.startsWith('/')) {
        refusals.push(`volume ${JSON.stringify(`${v.source}:${v.target}`)} is not SOURCE:TARGET with an absolute target and no further colon`);
        return v;
      }
      if (!v.source.startsWith('/')) {
        if (!VOLUME_NAME.test(v.source)) refusals.push(`volume source ${JSON.stringify(v.source)} is neither an absolute host path nor a volume name`);
        return v;
      }
      let real: string;
      try {
        real = resolveHostPath(v.source);
      } catch (err) {
        refusals.push(`bind mount of host path ${v.source} refused: it cannot be resolved (${(err as Error).message})`);
        return v;
      }
      if (!roots.some((r) => under(real, r))) {
        const shown = real === v.source ? v.source : `${v.source} (${real} on this host)`;
        refusals.push(`bind mount of host path ${shown} is not allowed on this node (muster agent --allow-bind PATH allows PATH and what is under it${policy.allowBinds?.length ? `; allowed now: ${policy.allowBinds.join(', ')}` : ''})`);
      }
      return { ...v, source: real };
    });
    if (!policy.allowPrivileged) {
      const flag = '(muster agent --allow-privileged)';
      if (spec.privileged) refusals.push(`privileged containers are not allowed on this node ${flag}`);
      if (spec.devices?.length) refusals.push(`host devices (${spec.devices.map((d) => d.hostPath).join(', ')}) are not allowed on this node ${flag}`);
      if (spec.capAdd?.length) refusals.push(`added capabilities (${spec.capAdd.join(', ')}) are not allowed on this node ${flag}`);
    }
    if (!policy.allowHostNamespaces) {
      const flag = '(muster agent --allow-host-namespaces)';
      if (spec.pid === 'host') refusals.push(`the host PID namespace is not allowed on this node ${flag}`);
      if (spec.network === 'host') refusals.push(`the host network is not allowed on this node ${flag}`);
      else if (spec.network && !PLAIN_NETWORKS.has(spec.network)) {
        // The host network can be named by its id too.
        const driver = await deps.networkDriver(spec.network).catch(() => undefined);
        if (driver === 'host') refusals.push(`network ${spec.network} is the host network, which is not allowed on this node ${flag}`);
      }
    }
    return { ...spec, volumes };
  }

  async function checkUnit(unit: string, refusals: string[]): Promise<void> {
    // An alias (sshd.service for ssh.service, dbus-org.freedesktop.network1.service) is the same unit.
    const names = [...new Set([unit, ...(await deps.unitNames(unit).catch(() => []))])];
    for (const name of names) {
      const hit = protectedUnits.find((p) => unitMatches(name, p));
      if (hit) {
        refusals.push(`unit ${unit}${name === unit ? '' : ` (${name})`} is protected (it matches ${hit}): deploys never act on ssh, systemd-*, dbus, networking, login consoles, targets or the agent's own unit, and no flag allows it`);
        return;
      }
    }
    if (policy.allowUnits && !policy.allowUnits.some((p) => unitMatches(unit, p))) {
      refusals.push(`unit ${unit} is not allowed on this node (muster agent --allow-unit ${policy.allowUnits.join(', ')})`);
    }
  }

  return {
    async check(a) {
      const refusals: string[] = [];
      const unknown = unknownFields(a);
      if (unknown.length) {
        // Ignoring a field could run something other than what was asked; a newer hub's field waits for a newer agent.
        refusals.push(`this agent does not know ${unknown.map((f) => `'${f}'`).join(', ')}, and runs nothing rather than ignore it`);
      }
      switch (a.kind) {
        case 'run': case 'replace':
          return { refusals, action: { ...a, container: await checkContainer(a.container, refusals) } };
        case 'unit':
          await checkUnit(a.unit, refusals);
          return { refusals, action: a };
        case 'container':
          return { refusals, action: a };
      }
    },
  };
}
