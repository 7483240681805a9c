/**
 * process-exporter's configuration file, so an existing one works with
 * `--process-groups FILE`: a `process_names` list of groups, each with
 * `comm`, `exe` and `cmdline` matchers (all given must match; the first
 * group that matches a process names it) and a `name` template
 * (`{{.Comm}}`, `{{.ExeBase}}`, `{{.ExeFull}}`, `{{.Username}}`,
 * `{{.Matches.NAME}}` for a named group of a cmdline regex, default
 * `{{.ExeBase}}`).
 *
 * The agent is one bundled file, so the YAML is read by a small parser of
 * the part of YAML such files use (block mappings and lists, `[a, b]`,
 * quoted and plain scalars, comments) instead of a 100 KiB library; anchors,
 * tags, block scalars and `{...}` are refused with the line they are on.
 * Go's regular expressions become JavaScript's (`(?P<name>`, leading
 * `(?i)`, `\A`, `\z`, `\Q...\E`, POSIX classes); what has no equivalent is
 * refused. Every problem in a file is reported at once.
 */

/** A process as the matchers see it (process-exporter's ProcAttributes). */
export interface ProcAttributes {
  /** /proc/PID/stat's name (at most 15 characters). */
  comm: string;
  /** /proc/PID/cmdline split at NUL; empty for kernel threads and zombies. */
  cmdline: readonly string[];
  /** The effective user's name, or the uid as a number when it has none. */
  username: string;
  /** The paths of /proc/PID/cgroup; read only when a template asks for them. */
  cgroups: readonly string[];
}

/** The groups of a configuration: who is in which group. */
export interface ProcessGroupsConfig {
  /** The group name of a process, or undefined when no group takes it. */
  match(p: ProcAttributes): string | undefined;
  /** A template renders `{{.Cgroups}}`: the collector must read /proc/PID/cgroup. */
  readonly usesCgroups: boolean;
  /**
   * Some group can take a process with no command line (a kernel thread):
   * one with no exe matcher whose cmdline regexes (if any) all match ''.
   * When none can, the collector need not read kernel threads at all.
   */
  readonly matchesWithoutCmdline: boolean;
  /** The groups' name templates, for the log. */
  readonly names: readonly string[];
}

/** A configuration file that cannot be used; the message lists every problem, one a line. */
export class ProcessGroupsConfigError extends Error {
  readonly code = 'MUSTER_ERR_PROCESS_GROUPS_CONFIG';
}

// ---------------------------------------------------------------------------
// The YAML subset.

/** What the YAML subset reads into: mappings, lists, strings, null. */
export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  no: number;
  indent: number;
  text: string;
}

class YamlError extends Error {}

const fail = (no: number, message: string): never => { throw new YamlError(`line ${no}: ${message}`); };

/** Cuts a comment off a line: `#` at its start or after a space, outside quotes. */
function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '#' && (i === 0 || text[i - 1] === ' ' || text[i - 1] === '\t')) {
      return text.slice(0, i);
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[,:-]/.test(text[i - 1]!))) {
      quote = c;
    }
  }
  return text;
}

/** Reads a quoted scalar starting at text[0]; returns it and what follows. */
function quoted(text: string, no: number): [string, string] {
  const q = text[0]!;
  let out = '';
  for (let i = 1; i < text.length; i++) {
    const c = text[i]!;
    if (q === "'") {
      if (c === "'") {
        if (text[i + 1] === "'") { out += "'"; i++; continue; }
        return [out, text.slice(i + 1)];
      }
      out += c;
      continue;
    }
    if (c === '"') return [out, text.slice(i + 1)];
    if (c !== '\\') { out += c; continue; }
    const e = text[++i];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', '"': '"', '/': '/', ' ': ' ', a: '\x07', b: '\b', e: '\x1b', f: '\f', v: '\v' };
    if (e !== undefined && e in simple) { out += simple[e]; continue; }
    const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    const hex = text.slice(i + 1, i + 1 + width);
    if (!width || !/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) fail(no, `unknown escape \\${e ?? ''} in a double-quoted string`);
    out += String.fromCodePoint(parseInt(hex, 16));
    i += width;
  }
  return fail(no, `a ${q === '"' ? 'double' : 'single'}-quoted string is not closed on its line (strings over several lines are not supported here)`);
}

const UNSUPPORTED_START = /^[&*!|>%@`]/;

/** A scalar or `[a, b]` written after `key:` or `- `. */
function inlineValue(text: string, no: number): YamlValue {
  const t = text.trim();
  if (t === '' || t === '~' || t === 'null' || t === 'Null' || t === 'NULL') return null;
  if (t.startsWith('{{')) return fail(no, `quote a template: "${t.replace(/"/g, '\\"')}"`);
  if (t[0] === '{') return fail(no, 'flow mappings ({...}) are not supported here: write the mapping in block style');
  if (UNSUPPORTED_START.test(t)) return fail(no, 'anchors, aliases, tags and block scalars (&, *, !, |, >) are not supported here');
  if (t[0] === '[') {
    if (!t.endsWith(']')) fail(no, 'a [...] list must close on its line');
    const items: YamlValue[] = [];
    let rest = t.slice(1, -1).trim();
    while (rest !== '') {
      let item: string;
      if (rest[0] === '"' || rest[0] === "'") {
        [item, rest] = quoted(rest, no);
        rest = rest.trim();
      } else {
        if (rest[0] === '[' || rest[0] === '{') fail(no, 'lists and mappings inside [...] are not supported here');
        const comma = rest.indexOf(',');
        item = (comma < 0 ? rest : rest.slice(0, comma)).trim();
        rest = comma < 0 ? '' : rest.slice(comma);
      }
      items.push(item);
      if (rest.startsWith(',')) rest = rest.slice(1).trim();
      else if (rest !== '') fail(no, `unexpected ${JSON.stringify(rest.slice(0, 20))} in a [...] list`);
    }
    return items;
  }
  if (t[0] === '"' || t[0] === "'") {
    const [s, rest] = quoted(t, no);
    if (rest.trim() !== '') fail(no, `unexpected ${JSON.stringify(rest.trim().slice(0, 20))} after a quoted string`);
    return s;
  }
  if (/:(\s|$)/.test(t)) fail(no, `${JSON.stringify(t.slice(0, 40))}: a plain value cannot hold ": " (quote it)`);
  return t;
}

/** Splits `key: rest` into its key and rest; undefined when the line is no mapping entry. */
function keyOf(text: string, no: number): [string, string] | undefined {
  if (text[0] === '"' || text[0] === "'") {
    const [key, rest] = quoted(text, no);
    const m = /^\s*:(?:\s+|$)/.exec(rest);
    return m ? [key, rest.slice(m[0].length)] : undefined;
  }
  const m = /:(?:\s+|$)/.exec(text);
  if (!m || text[0] === '[' || text[0] === '{') return undefined;
  return [text.slice(0, m.index).trim(), text.slice(m.index + m[0].length)];
}

/**
 * Parses the YAML subset process-exporter files use. Scalars are strings
 * (`123` too: process-exporter reads every field as a string); `~`, `null`
 * and nothing are null.
 */
export function parseYamlSubset(source: string): YamlValue {
  const lines: Line[] = [];
  let ended = false;
  source.replace(/^\uFEFF/, '').split(/\r?\n/).forEach((raw, i) => {
    const no = i + 1;
    if (ended) return;
    const lead = /^[ \t]*/.exec(raw)![0];
    const text = stripComment(raw.slice(lead.length)).trimEnd();
    if (text === '') return;
    if (lead.includes('\t')) fail(no, 'a tab in the indentation (YAML indents with spaces)');
    if (lead === '' && text === '---') {
      if (lines.length > 0) fail(no, 'more than one YAML document');
      return;
    }
    if (lead === '' && text === '...') { ended = true; return; }
    if (lead === '' && text.startsWith('%')) fail(no, 'YAML directives are not supported here');
    lines.push({ no, indent: lead.length, text });
  });
  let at = 0;

  function block(indent: number): YamlValue {
    const first = lines[at]!;
    if (first.text === '-' || first.text.startsWith('- ')) return sequence(indent);
    if (keyOf(first.text, first.no)) return mapping(indent);
    at++;
    const value = inlineValue(first.text, first.no);
    if (at < lines.length && lines[at]!.indent > indent) fail(lines[at]!.no, 'a value over several lines is not supported here');
    return value;
  }

  /** The value after `key:` or `-` with nothing on the line: the lines indented deeper, if any. */
  function nested(parent: number, sameIndentList: boolean): YamlValue {
    const next = lines[at];
    if (next && next.indent > parent) return block(next.indent);
    if (next && sameIndentList && next.indent === parent && (next.text === '-' || next.text.startsWith('- '))) return sequence(parent);
    return null;
  }

  function sequence(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    while (at < lines.length) {
      const line = lines[at]!;
      if (line.indent < indent) break;
      if (line.indent > indent) fail(line.no, 'unexpected indentation');
      if (!(line.text === '-' || line.text.startsWith('- '))) break;
      const rest = line.text.slice(1).replace(/^ +/, '');
      if (rest === '') {
        at++;
        out.push(nested(indent, false));
        continue;
      }
      if (rest === '-' || rest.startsWith('- ') || keyOf(rest, line.no)) {
        // `- key: value` opens a mapping (or `- - x` a list) whose column is where `key` starts.
        const column = line.indent + (line.text.length - rest.length);
        lines[at] = { no: line.no, indent: column, text: rest };
        out.push(block(column));
        continue;
      }
      at++;
      out.push(inlineValue(rest, line.no));
      if (at < lines.length && lines[at]!.indent > indent) fail(lines[at]!.no, 'a value over several lines is not supported here');
    }
    return out;
  }

  function mapping(indent: number): { [key: string]: YamlValue } {
    const out: { [key: string]: YamlValue } = {};
    while (at < lines.length) {
      const line = lines[at]!;
      if (line.indent < indent) break;
      if (line.indent > indent) fail(line.no, 'unexpected indentation');
      if (line.text === '-' || line.text.startsWith('- ')) break;
      const kv = keyOf(line.text, line.no);
      if (!kv) return fail(line.no, `expected "key: value", found ${JSON.stringify(line.text.slice(0, 40))}`);
      const [key, rest] = kv;
      if (Object.hasOwn(out, key)) fail(line.no, `the key ${JSON.stringify(key)} is given twice`);
      at++;
      if (rest.trim() === '') {
        out[key] = nested(indent, true);
      } else {
        out[key] = inlineValue(rest, line.no);
        if (at < lines.length && lines[at]!.indent > indent) fail(lines[at]!.no, 'a value over several lines is not supported here');
      }
    }
    return out;
  }

  if (lines.length === 0) return null;
  const root = block(lines[0]!.indent);
  if (at < lines.length) fail(lines[at]!.no, 'unexpected indentation');
  return root;
}

// ---------------------------------------------------------------------------
// Go's regular expressions and templates.

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F', digit: '0-9',
  graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~', space: '\\t\\n\\v\\f\\r ', upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

/** Translates a Go (RE2) regular expression to a JavaScript one; throws with the reason when it cannot. */
export function goRegExp(src: string): RegExp {
  let flags = '';
  let s = src;
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(s);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'i' || f === 'm' || f === 's') flags += flags.includes(f) ? '' : f;
      else throw new Error(`the flag (?${f}) has no JavaScript equivalent`);
    }
    s = s.slice(lead[0].length);
  }
  let out = '';
  let inClass = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const e = s[i + 1];
      if (e === undefined) throw new Error('a trailing backslash');
      if (e === 'Q') {
        const end = s.indexOf('\\E', i + 2);
        const literal = s.slice(i + 2, end < 0 ? s.length : end);
        out += literal.replace(/[\\^$.*+?()[\]{}|\/-]/g, '\\$&');
        i = end < 0 ? s.length : end + 1;
        continue;
      }
      if (e === 'p' || e === 'P') throw new Error('Unicode classes (\\p) are not supported');
      if (e === 'C') throw new Error('\\C is not supported');
      if (!inClass && e === 'A') { out += '(?<![\\s\\S])'; i++; continue; }
      if (!inClass && e === 'z') { out += '(?![\\s\\S])'; i++; continue; }
      out += c + e;
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[' && s[i + 1] === ':') {
        const end = s.indexOf(':]', i + 2);
        const name = end < 0 ? '' : s.slice(i + 2, end);
        const cls = POSIX_CLASSES[name];
        if (cls === undefined) throw new Error(`the class [:${name}:] is not supported`);
        out += cls;
        i = end + 1;
        continue;
      }
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // A ']' first in a class (or after '^') is a literal in RE2, and must be escaped in JavaScript.
      if (s[i + 1] === '^') { out += '^'; i++; }
      if (s[i + 1] === ']') { out += '\\]'; i++; }
      continue;
    }
    if (c === '(' && s[i + 1] === '?') {
      if (s.startsWith('(?P<', i)) { out += '(?<'; i += 3; continue; }
      if (s[i + 2] === ':' ) { out += '(?:'; i += 2; continue; }
      if (s[i + 2] === '<') { out += '(?<'; i += 2; continue; }
      throw new Error('inline flags are supported only at the start, as (?i)');
    }
    out += c;
  }
  return new RegExp(out, flags);
}

/** Go's filepath.Base. */
export function goBase(path: string): string {
  if (path === '') return '.';
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** What a template can name (process-exporter's templateParams). */
interface TemplateParams {
  Comm: string;
  ExeBase: string;
  ExeFull: string;
  Username: string;
  Cgroups: readonly string[];
  Matches: Record<string, string>;
}

type Piece = string | ((p: TemplateParams) => string);

const FIELDS = ['Comm', 'ExeBase', 'ExeFull', 'Username'] as const;

/**
 * Compiles the part of Go's text/template process-exporter names use.
 * `{{.PID}}` and `{{.StartTime}}` are refused: a group per process is a
 * series per process, which muster does not make.
 */
export function compileNameTemplate(template: string, captureNames: ReadonlySet<string>): (p: TemplateParams) => string {
  const pieces: Piece[] = [];
  let rest = template;
  while (rest !== '') {
    const open = rest.indexOf('{{');
    if (open < 0) { pieces.push(rest); break; }
    let text = rest.slice(0, open);
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw new Error('a {{ without its }}');
    let action = rest.slice(open + 2, close);
    rest = rest.slice(close + 2);
    if (action.startsWith('-') && /^-\s/.test(action)) { action = action.slice(1); text = text.trimEnd(); }
    if (/\s-$/.test(action)) { action = action.slice(0, -1); rest = rest.trimStart(); }
    if (text) pieces.push(text);
    action = action.trim();
    if (/^\/\*[\s\S]*\*\/$/.test(action)) continue;
    let m: RegExpExecArray | null;
    if ((m = /^\.(\w+)$/.exec(action))) {
      const field = m[1]!;
      if ((FIELDS as readonly string[]).includes(field)) { const f = field as (typeof FIELDS)[number]; pieces.push((p) => p[f]); continue; }
      if (field === 'Cgroups') { pieces.push((p) => `[${p.Cgroups.join(' ')}]`); continue; }
      if (field === 'PID' || field === 'StartTime') throw new Error(`{{.${field}}} would make a group, and series, per process`);
      throw new Error(`{{${action}}}: the fields are .Comm, .ExeBase, .ExeFull, .Username, .Cgroups and .Matches.NAME`);
    }
    if ((m = /^\.Matches\.(\w+)$/.exec(action)) || (m = /^index\s+\.Matches\s+(?:"([^"]*)"|`([^`]*)`)$/.exec(action))) {
      const name = m[1] ?? m[2]!;
      if (!captureNames.has(name)) throw new Error(`{{${action}}}: no cmdline regex of this group has a group named ${name} (write (?P<${name}>...))`);
      pieces.push((p) => p.Matches[name] ?? '');
      continue;
    }
    throw new Error(`{{${action}}} is not supported: use .Comm, .ExeBase, .ExeFull, .Username, .Cgroups, .Matches.NAME`);
  }
  return (p) => pieces.map((x) => (typeof x === 'string' ? x : x(p))).join('');
}

// ---------------------------------------------------------------------------
// The configuration.

interface Group {
  comms: Set<string> | undefined;
  /** Base name -> the full path it must be, or '' for any. */
  exes: Map<string, string> | undefined;
  cmdlines: RegExp[] | undefined;
  name: (p: TemplateParams) => string;
  template: string;
}

const GROUP_KEYS = ['name', 'comm', 'exe', 'cmdline'];

/** A list of strings, or a problem. */
function stringList(v: YamlValue, where: string, problems: string[]): string[] | undefined {
  if (v === null) return undefined;
  if (!Array.isArray(v)) { problems.push(`${where} must be a list, e.g. ${where.split('.').pop()}: [a, b]`); return undefined; }
  return v.map((x, i) => {
    if (x === null) return '';
    if (typeof x !== 'string') { problems.push(`${where}[${i}] must be a string`); return ''; }
    return x;
  });
}

/** Builds a configuration from groups already checked; the matching rules are process-exporter's. */
function build(groups: Group[]): ProcessGroupsConfig {
  return Object.freeze({
    usesCgroups: groups.some((g) => g.template.includes('.Cgroups')),
    // What match() does with cmdline [] (joined: ''); a comm matcher is not looked at, so a kernel thread's name is never guessed.
    matchesWithoutCmdline: groups.some((g) => !g.exes && (g.cmdlines ?? []).every((re) => re.test(''))),
    names: Object.freeze(groups.map((g) => g.template)),
    match(p: ProcAttributes): string | undefined {
      for (const g of groups) {
        if (g.comms && !g.comms.has(p.comm)) continue;
        if (g.exes) {
          if (p.cmdline.length === 0) continue;
          const want = g.exes.get(goBase(p.cmdline[0]!));
          if (want === undefined || (want !== '' && want !== p.cmdline[0])) continue;
        }
        const matches: Record<string, string> = {};
        if (g.cmdlines) {
          const line = p.cmdline.join(' ');
          let all = true;
          for (const re of g.cmdlines) {
            const m = re.exec(line);
            if (!m) { all = false; break; }
            for (const [k, v] of Object.entries(m.groups ?? {})) matches[k] = v ?? '';
          }
          if (!all) continue;
        }
        const exeFull = p.cmdline.length > 0 ? p.cmdline[0]! : p.comm;
        return g.name({ Comm: p.comm, ExeFull: exeFull, ExeBase: p.cmdline.length > 0 ? goBase(exeFull) : p.comm, Username: p.username, Cgroups: p.cgroups, Matches: matches });
      }
      return undefined;
    },
  });
}

/**
 * Reads a process-exporter configuration file's text; throws
 * ProcessGroupsConfigError listing every problem.
 */
export function parseProcessGroups(text: string): ProcessGroupsConfig {
  let doc: YamlValue;
  try {
    doc = parseYamlSubset(text);
  } catch (err) {
    if (err instanceof YamlError) throw new ProcessGroupsConfigError(err.message);
    throw err;
  }
  const problems: string[] = [];
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new ProcessGroupsConfigError('the file must be a mapping with a process_names list, as process-exporter\'s');
  for (const k of Object.keys(doc)) if (k !== 'process_names') problems.push(`unknown key ${JSON.stringify(k)} (the file has one key, process_names)`);
  const list = doc['process_names'];
  if (!Array.isArray(list) || list.length === 0) problems.push('process_names must be a list of groups, e.g. process_names: [{name: "{{.Comm}}", cmdline: [".+"]}] in block style');
  const groups: Group[] = [];
  (Array.isArray(list) ? list : []).forEach((g, i) => {
    const where = `process_names[${i}]`;
    if (g === null || typeof g !== 'object' || Array.isArray(g)) { problems.push(`${where} must be a mapping of name, comm, exe and cmdline`); return; }
    for (const k of Object.keys(g)) if (!GROUP_KEYS.includes(k)) problems.push(`${where}: unknown key ${JSON.stringify(k)} (the keys are ${GROUP_KEYS.join(', ')})`);
    const comm = stringList(g['comm'] ?? null, `${where}.comm`, problems);
    const exe = stringList(g['exe'] ?? null, `${where}.exe`, problems);
    const cmdline = stringList(g['cmdline'] ?? null, `${where}.cmdline`, problems);
    if (!comm && !exe && !cmdline) problems.push(`${where}: no comm, exe or cmdline matcher`);
    const regexps: RegExp[] = [];
    const captures = new Set<string>();
    for (const [j, src] of (cmdline ?? []).entries()) {
      try {
        const re = goRegExp(src);
        regexps.push(re);
        for (const m of re.source.matchAll(/\(\?<([A-Za-z_]\w*)>/g)) captures.add(m[1]!);
      } catch (err) {
        problems.push(`${where}.cmdline[${j}] ${JSON.stringify(src)}: ${(err as Error).message}`);
      }
    }
    const nameValue = g['name'] ?? null;
    if (nameValue !== null && typeof nameValue !== 'string') problems.push(`${where}.name must be a string`);
    const template = typeof nameValue === 'string' && nameValue !== '' ? nameValue : '{{.ExeBase}}';
    let name: Group['name'] = () => '';
    try {
      name = compileNameTemplate(template, captures);
    } catch (err) {
      problems.push(`${where}.name ${JSON.stringify(template)}: ${(err as Error).message}`);
    }
    groups.push({
      comms: comm ? new Set(comm) : undefined,
      exes: exe ? new Map(exe.map((e) => (e.includes('/') ? [goBase(e), e] : [e, '']))) : undefined,
      cmdlines: cmdline ? regexps : undefined,
      name,
      template,
    });
  });
  if (problems.length) throw new ProcessGroupsConfigError(problems.join('\n'));
  return build(groups);
}

/** Without a file: every process with a command line, grouped by its name, as process-exporter's `{{.Comm}}` example. */
export const DEFAULT_PROCESS_GROUPS_YAML = `process_names:
  - name: "{{.Comm}}"
    cmdline:
      - '.+'
`;

/** The configuration used without `--process-groups`. */
export function defaultProcessGroups(): ProcessGroupsConfig {
  return parseProcessGroups(DEFAULT_PROCESS_GROUPS_YAML);
}
