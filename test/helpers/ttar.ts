/**
 * Extracts a ttar archive (node_exporter's text format for sysfs fixture
 * trees: sysfs has symlink cycles, which a test runner walking the test
 * folder would loop on, so such trees are kept archived and extracted into a
 * temporary directory by the test that uses them).
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Undoes ttar's escapes in one content line: NULLBYTE, and EOF marking a last line without a newline. */
function unescape(line: string): { text: string; newline: boolean } {
  const newline = !/(^|[^\\])EOF$/.test(line);
  const text = line
    .replace(/(^|[^\\])NULLBYTE/g, '$1\0').replace(/(^|[^\\])NULLBYTE/g, '$1\0').replace(/\\NULLBYTE/g, 'NULLBYTE')
    .replace(/(^|[^\\])EOF$/, '$1').replace(/\\EOF/g, 'EOF');
  return { text, newline };
}

/** Extracts the archive text into `dest`. */
export function extractTtar(archive: string, dest: string): void {
  const lines = archive.split('\n');
  let path = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    let m: RegExpExecArray | null;
    if ((m = /^Path: (.*)$/.exec(line))) {
      path = join(dest, m[1]!);
      mkdirSync(dirname(path), { recursive: true });
    } else if ((m = /^Lines: (\d+)$/.exec(line))) {
      let content = '';
      for (let n = Number(m[1]); n > 0; n--) {
        const u = unescape(lines[++i]!);
        content += u.text + (u.newline ? '\n' : '');
      }
      writeFileSync(path, content);
    } else if ((m = /^Mode: (\d+)$/.exec(line))) {
      try { chmodSync(path, parseInt(m[1]!, 8)); } catch { /* a symlink's mode */ }
    } else if ((m = /^Directory: (.*)$/.exec(line))) {
      path = join(dest, m[1]!);
      mkdirSync(path, { recursive: true });
    } else if ((m = /^SymlinkTo: (.*)$/.exec(line))) {
      symlinkSync(m[1]!, path);
    } else if (line !== '' && !line.startsWith('#')) {
      throw new Error(`ttar: unknown line ${i + 1}: ${line.slice(0, 80)}`);
    }
  }
}
