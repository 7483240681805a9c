/**
 * /proc/mounts: which filesystems are worth reporting.
 */
import { parseOnChange, readFileAt } from './read.ts';

/** One line of /proc/mounts. */
export interface MountEntry {
  device: string;
  mountpoint: string;
  fstype: string;
}

/**
 * node_exporter's default `--collector.filesystem.fs-types-exclude`: kernel
 * pseudo filesystems, container layers and read-only images whose usage means
 * nothing. tmpfs is kept on purpose, as node_exporter does: a full /run breaks a host.
 */
export const EXCLUDED_FS_TYPES =
  /^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$/;

/** node_exporter's default `--collector.filesystem.mount-points-exclude`. */
export const EXCLUDED_MOUNT_POINTS =
  /^\/(dev|proc|run\/credentials\/.+|sys|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;

/** Undoes the kernel's octal escaping of space, tab, newline and backslash in mount fields. */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/mounts (fstab format) into entries, in file order. */
export function parseMounts(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    const [device, mountpoint, fstype] = line.trim().split(/\s+/);
    if (device === undefined || mountpoint === undefined || fstype === undefined) continue;
    entries.push({ device: unescapeMountField(device), mountpoint: unescapeMountField(mountpoint), fstype });
  }
  return entries;
}

/**
 * Keeps the mounts node_exporter would report, each filesystem once.
 *
 * A mount point listed twice was mounted over; the later line is the one
 * visible, and the one statfs will see. A device that names a real thing (a
 * path like /dev/sda1, server:/export, pool/dataset) mounted at several places
 * is one filesystem reached through bind mounts: it is reported once, at its
 * shortest mount point. Devices without a slash (`tmpfs`, `rpool`) are labels,
 * not identities, so every such mount counts on its own.
 */
export function selectFilesystems(entries: readonly MountEntry[]): MountEntry[] {
  const byMountpoint = new Map<string, MountEntry>();
  for (const e of entries) {
    if (EXCLUDED_FS_TYPES.test(e.fstype) || EXCLUDED_MOUNT_POINTS.test(e.mountpoint)) continue;
    byMountpoint.delete(e.mountpoint);
    byMountpoint.set(e.mountpoint, e);
  }
  const byDevice = new Map<string, MountEntry>();
  for (const e of byMountpoint.values()) {
    const key = e.device.includes('/') ? `dev:${e.device}` : `mnt:${e.mountpoint}`;
    const seen = byDevice.get(key);
    if (seen === undefined || e.mountpoint.length < seen.mountpoint.length) byDevice.set(key, e);
  }
  return [...byDevice.values()];
}

/**
 * A reader of the mounts of PID 1 (`<root>/proc/1/mounts`, else the agent's own
 * `<root>/proc/mounts`) and returns the filesystems worth reporting. Under
 * systemd's sandboxing (muster-agent.service: ProtectSystem=, PrivateTmp=,
 * ProtectHome=) the agent has a mount namespace of its own, whose list holds
 * the sandbox's tmpfs and bind mounts (/run/credentials, /run/systemd/incoming,
 * /run/user); PID 1's is the host's. The list it gives is shared from call to
 * call: not to be changed.
 */
export function createMountsReader(root: string): () => Promise<readonly MountEntry[]> {
  // The table is the same interval after interval: it is parsed again only when it changed.
  const select = parseOnChange((text) => selectFilesystems(parseMounts(text)));
  return async () => select(readMountTable(root));
}

/** The text of PID 1's mount table under `root`, else the agent's own (see createMountsReader for why PID 1's). */
export function readMountTable(root: string): string {
  try {
    return readFileAt(root, '/proc/1/mounts');
  } catch {
    return readFileAt(root, '/proc/mounts');
  }
}
