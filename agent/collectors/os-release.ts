/**
 * /etc/os-release: which distribution and version the node runs.
 */
import type { HostFacts } from '../../protocol/messages.ts';
import { isAbsent, readText } from './read.ts';

/** The distribution as the protocol describes it. */
export type OsRelease = HostFacts['os'];

/** Undoes os-release's shell-style quoting: `"a \"b\""`, `'a b'` or a bare word. */
function unquote(raw: string): string {
  const v = raw.trim();
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\([\\"$`])/g, '$1');
  return v;
}

/** Parses os-release(5) into all its variables. */
export function parseOsReleaseVars(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) vars.set(m[1], unquote(m[2]));
  }
  return vars;
}

/**
 * Parses os-release(5), with the defaults the spec gives for missing fields.
 * `version` is the machine-comparable VERSION_ID ("12"); rolling distributions
 * without one (Debian sid, Arch) fall back to VERSION, then BUILD_ID.
 */
export function parseOsRelease(text: string): OsRelease {
  const v = parseOsReleaseVars(text);
  const name = v.get('NAME') ?? 'Linux';
  return {
    id: v.get('ID') ?? 'linux',
    name,
    version: v.get('VERSION_ID') ?? v.get('VERSION') ?? v.get('BUILD_ID') ?? '',
    prettyName: v.get('PRETTY_NAME') ?? name,
  };
}

/** Reads `<root>/etc/os-release`, falling back to /usr/lib/os-release as the spec says. */
export async function readOsRelease(root: string): Promise<OsRelease> {
  try {
    return parseOsRelease(await readText(root, '/etc/os-release'));
  } catch (err) {
    if (!isAbsent(err)) throw err;
    return parseOsRelease(await readText(root, '/usr/lib/os-release'));
  }
}
