/**
 * Filesystem size and use: the mounts from /proc/mounts, each measured with statfs.
 */
import * as fsp from 'node:fs/promises';
import type { FilesystemUse } from '../../protocol/messages.ts';
import { readMounts, type MountEntry } from './mounts.ts';
import { errorCode, hostPath, reasonOf } from './read.ts';

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
  // fs.promises.statfs arrived in Node 18.15; a namespace import keeps older 18.x loading.
  const statfs = opts.statfs ?? (fsp as { statfs?: (path: string) => Promise<StatfsResult> }).statfs;

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
      const mounts = await readMounts(opts.root);
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
