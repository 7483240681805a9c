/**
 * The agent bundle this hub serves (GET /dl/muster-agent.js) and pushes to
 * agents that upgrade: its version (the `// muster-agent VERSION` line that
 * install/build-agent.ts writes under the shebang) and its SHA-256, read
 * again whenever the file changes.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

/** What an agent checks before it swaps a download in. */
export interface BundleInfo {
  path: string;
  version: string;
  sha256: string;
  bytes: number;
}

export interface AgentBundle {
  /** The bundle as it is on disk now; undefined when there is none. */
  info(): BundleInfo | undefined;
}

/** Reads the bundle at `path` lazily, and again when its size or mtime moved. */
export function createAgentBundle(path: string | undefined): AgentBundle {
  let cached: { key: string; info: BundleInfo } | undefined;
  return {
    info() {
      if (!path) return undefined;
      let key: string;
      try {
        const st = statSync(path);
        key = `${st.size}|${st.mtimeMs}`;
      } catch {
        return undefined;
      }
      if (cached?.key === key) return cached.info;
      const bytes = readFileSync(path);
      const version = /^\/\/ muster-agent (\S+)$/m.exec(bytes.subarray(0, 256).toString('utf8'))?.[1] ?? 'unknown';
      cached = { key, info: { path, version, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length } };
      return cached.info;
    },
  };
}
