/**
 * Filesystem size and use: the mounts from /proc/mounts, each measured with statfs.
 */
import type { FilesystemUse } from '../../protocol/messages.ts';
import { createMountsReader, readMountTable, type MountEntry } from './mounts.ts';
import { errorCode, hostPath, parseOnChange, reasonOf, statfsCall } from './read.ts';
import type { CollectorSpec } from './registry.ts';

/** The statfs fields the collector uses; older Node releases have no `frsize`. */
export interface StatfsResult {
  bsize: number;
  frsize?: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

/** Size and use of one filesystem, in bytes and inodes. */
export type FilesystemStats = Pick<FilesystemUse, 'sizeBytes' | 'freeBytes' | 'availBytes' | 'files' | 'filesFree'>;

/**
 * Converts a statfs result to bytes. Block counts are in units of the
 * fundamental block size (f_frsize), as df uses; f_bsize is only the preferred
 * I/O size, and the two differ on some filesystems, so frsize wins when known.
 */
export function fromStatfs(s: StatfsResult): FilesystemStats {
  const block = typeof s.frsize === 'number' && s.frsize > 0 ? s.frsize : s.bsize;
  return {
    sizeBytes: s.blocks * block,
    freeBytes: s.bfree * block,
    availBytes: s.bavail * block,
    files: s.files,
    filesFree: s.ffree,
  };
}

/** Result of measuring every reported filesystem once. */
export interface FilesystemReading {
  filesystems: FilesystemUse[];
  /** One line per mount that could not be measured, e.g. `/mnt/nas: statfs timed out after 5000 ms`. */
  failures: string[];
}

/** Measures the host's filesystems; keeps track of mounts whose statfs hangs. */
export interface FilesystemReader {
  read(): Promise<FilesystemReading>;
}

/** Options for {@link createFilesystemReader}. */
export interface FilesystemReaderOptions {
  root: string;
  /** How long one statfs may take before the mount is reported as failed. */
  timeoutMs?: number;
  /** The statfs call; default fs.promises.statfs. Tests pass one that hangs. */
  statfs?: (path: string) => Promise<StatfsResult>;
}

/**
 * Creates a filesystem reader. statfs on a dead NFS server blocks a libuv
 * thread for as long as the server is gone; like node_exporter's stuck-mount
 * list, a mount whose call has not come back is skipped (and reported) until
 * it does, so a dead mount costs one thread, not one per sample.
 */
export function createFilesystemReader(opts: FilesystemReaderOptions): FilesystemReader {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const stuck = new Set<string>();
  // statfs arrived in Node 18.15; older 18.x report the filesystems unavailable.
  const statfs = opts.statfs ?? statfsCall();
  const readMountList = createMountsReader(opts.root);

  function measure(mount: MountEntry): Promise<FilesystemStats> {
    if (statfs === undefined) return Promise.reject(new Error('statfs needs Node >= 18.15'));
    if (stuck.has(mount.mountpoint)) return Promise.reject(new Error('statfs still blocked from an earlier sample'));
    const call = statfs(hostPath(opts.root, mount.mountpoint));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stuck.add(mount.mountpoint);
        reject(new Error(`statfs timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      call.then(
        (s) => { clearTimeout(timer); stuck.delete(mount.mountpoint); resolve(fromStatfs(s)); },
        (err: unknown) => { clearTimeout(timer); stuck.delete(mount.mountpoint); reject(err); },
      );
    });
  }

  return {
    async read() {
      const mounts = await readMountList();
      const results = await Promise.allSettled(mounts.map(measure));
      const filesystems: FilesystemUse[] = [];
      const failures: string[] = [];
      results.forEach((r, i) => {
        const m = mounts[i];
        if (m === undefined) return;
        if (r.status === 'fulfilled') {
          filesystems.push({ mountpoint: m.mountpoint, device: m.device, fstype: m.fstype, ...r.value });
        } else {
          failures.push(`${m.mountpoint}: ${errorCode(r.reason) ?? reasonOf(r.reason)}`);
        }
      });
      return { filesystems, failures };
    },
  };
}

/** node_exporter 1.5's default `--collector.filesystem.fs-types-exclude`. */
export const NODE_FS_TYPES_EXCLUDE = /^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$/;
/** node_exporter 1.5's default `--collector.filesystem.mount-points-exclude`. */
export const NODE_MOUNT_POINTS_EXCLUDE = /^\/(dev|proc|run\/credentials\/.+|sys|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;

/** A mount as node_exporter's filesystem collector sees it. */
export interface NodeMount {
  device: string;
  mountpoint: string;
  fstype: string;
  readonly: boolean;
}

/** Parses /proc/mounts as node_exporter does: the mount point's \040 and \011 undone, nothing else. */
export function parseNodeMounts(text: string): NodeMount[] {
  const out: NodeMount[] = [];
  const lines = text.split('\n');
  for (let li = 0; li < lines.length; li++) {
    const line = lines[li]!;
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    out.push({
      device: f[0]!, mountpoint: f[1]!.replace(/\\040/g, ' ').replace(/\\011/g, '\t'), fstype: f[2]!,
      readonly: f[3]!.split(',').includes('ro'),
    });
  }
  return out;
}

/** Options of the filesystem collector: node_exporter's two exclusion flags. */
export interface FilesystemCollectorOptions {
  mountPointsExclude?: RegExp;
  fsTypesExclude?: RegExp;
  timeoutMs?: number;
  statfs?: (path: string) => Promise<StatfsResult>;
}

/**
 * node_exporter's `filesystem` collector: size, free and available bytes,
 * inodes, read-only and device errors of every mount it would report. Sizes
 * are blocks times f_bsize, as node_exporter computes them. A mount whose
 * statfs does not answer within the timeout is reported with
 * node_filesystem_device_error 1 and not asked again until that call returns.
 */
export function createFilesystemCollector(opts: FilesystemCollectorOptions = {}): CollectorSpec {
  const mountsExclude = opts.mountPointsExclude ?? NODE_MOUNT_POINTS_EXCLUDE;
  const typesExclude = opts.fsTypesExclude ?? NODE_FS_TYPES_EXCLUDE;
  const timeoutMs = opts.timeoutMs ?? 5000;
  return {
    name: 'filesystem',
    reads: '/proc/1/mounts (else /proc/mounts), statfs(2) of each mount',
    enabled: true,
    every: 1,
    maxSeries: 7 * 4096,
    whenAbsent: 'nodata',
    create(ctx) {
      const statfs = opts.statfs ?? statfsCall();
      const stuck = new Set<string>();
      const measure = (m: NodeMount): Promise<StatfsResult | undefined> => {
        if (statfs === undefined || stuck.has(m.mountpoint)) return Promise.resolve(undefined);
        const call = statfs(hostPath(ctx.root, m.mountpoint));
        return new Promise((resolve) => {
          const timer = setTimeout(() => { stuck.add(m.mountpoint); resolve(undefined); }, timeoutMs);
          call.then(
            (s) => { clearTimeout(timer); stuck.delete(m.mountpoint); resolve(s); },
            () => { clearTimeout(timer); stuck.delete(m.mountpoint); resolve(undefined); },
          );
        });
      };
      // The mount table is the same interval after interval: it is parsed and filtered again only when it changed.
      const select = parseOnChange((text) => {
        const seen = new Set<string>();
        return parseNodeMounts(text).filter((m) => {
          if (mountsExclude.test(m.mountpoint) || typesExclude.test(m.fstype)) return false;
          const key = `${m.device}\u0000${m.mountpoint}\u0000${m.fstype}`;
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
      });
      return async (out) => {
        const mounts = select(readMountTable(ctx.root));
        const results = await Promise.all(mounts.map(measure));
        const labels = ['device', 'mountpoint', 'fstype'];
        const error = out.gauge('node_filesystem_device_error', 'Whether an error occurred while getting statistics for the given device.', labels);
        const size = out.gauge('node_filesystem_size_bytes', 'Filesystem size in bytes.', labels);
        const free = out.gauge('node_filesystem_free_bytes', 'Filesystem free space in bytes.', labels);
        const avail = out.gauge('node_filesystem_avail_bytes', 'Filesystem space available to non-root users in bytes.', labels);
        const files = out.gauge('node_filesystem_files', 'Filesystem total file nodes.', labels);
        const filesFree = out.gauge('node_filesystem_files_free', 'Filesystem total free file nodes.', labels);
        const ro = out.gauge('node_filesystem_readonly', 'Filesystem read-only status.', labels);
        mounts.forEach((m, i) => {
          const s = results[i];
          error(s ? 0 : 1, m.device, m.mountpoint, m.fstype);
          if (!s) return;
          size(s.blocks * s.bsize, m.device, m.mountpoint, m.fstype);
          free(s.bfree * s.bsize, m.device, m.mountpoint, m.fstype);
          avail(s.bavail * s.bsize, m.device, m.mountpoint, m.fstype);
          files(s.files, m.device, m.mountpoint, m.fstype);
          filesFree(s.ffree, m.device, m.mountpoint, m.fstype);
          ro(m.readonly ? 1 : 0, m.device, m.mountpoint, m.fstype);
        });
      };
    },
  };
}
