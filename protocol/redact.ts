/**
 * Secrets out of what a node reports and people read: passwords, tokens and
 * keys in command lines, container commands and labels, user:password in
 * URLs, muster tokens anywhere, and deploy env values (write-only).
 *
 * Pure and shared on purpose: the agent redacts before anything leaves the
 * node, and the hub redacts again on ingest (agents 0.1.0 send clear text)
 * and when it loads what an older hub stored. Every function is idempotent,
 * so text redacted on one side comes through the other unchanged.
 *
 * It matches name parts, not substrings: `--api-key` and `PGPASSWORD` are
 * secrets, `--keyboard` and `monkey=` are not. Known gaps: a value with spaces
 * in a command line that reached us already joined (quotes aside), short
 * flags other than the few well-known programs' below, and secrets under
 * names that say nothing (`--x hunter2`).
 */
import type { ContainerSpec, DeployAction } from './deploys.ts';

/** What a secret is replaced with. */
export const REDACTED = '<redacted>';

/** Parts that name a secret by themselves: `--key`, `DB_PASS`, `x.pwd`, `clientSecret`. */
const SECRET_PARTS = new Set([
  'password', 'passwords', 'passwd', 'pwd', 'pass', 'passphrase', 'secret', 'secrets', 'token', 'tokens', 'key',
  'credential', 'credentials', 'creds', 'auth', 'authorization', 'basicauth', 'cookie', 'requirepass', 'masterauth',
  'apikey', 'accesskey', 'secretkey', 'privatekey',
]);

/**
 * Endings that make a run-together word a secret (`pgpassword`, `authtoken`,
 * `clientsecret`): only long ones, since `key`, `pass` and `auth` end
 * ordinary words (monkey, bypass, oauth is fine but author is not).
 */
const SECRET_ENDINGS = [
  'password', 'passwd', 'passphrase', 'secret', 'token', 'credential', 'credentials',
  'apikey', 'accesskey', 'secretkey', 'privatekey', 'authkey', 'masterkey', 'encryptionkey', 'signingkey', 'licensekey', 'sessionkey',
];

/**
 * A last part that says where a secret is or what kind it is, not the secret
 * itself: `--key-file /etc/x.pem`, `--auth-mode rbac`, `AWS_ACCESS_KEY_ID`,
 * `--password-stdin`. Such values are kept: they are what an operator looks for.
 */
const DESCRIBES_SECRET = new Set([
  'file', 'files', 'path', 'paths', 'dir', 'directory', 'filename', 'location', 'type', 'mode', 'method', 'length', 'len',
  'size', 'bits', 'min', 'max', 'id', 'name', 'names', 'env', 'cmd', 'command', 'helper', 'prompt', 'store', 'format',
  'algorithm', 'alg', 'ttl', 'timeout', 'expiry', 'expires', 'header', 'source', 'provider', 'backend', 'plugin', 'scheme',
  'realm', 'user', 'username', 'url', 'uri', 'endpoint', 'host', 'port', 'server', 'enabled', 'required', 'stdin', 'fd',
  'policy', 'version', 'count', 'limit', 'kind', 'jar',
]);

/** A first part that makes a flag a switch (`--no-auth`, `--skip-password`): it has no value to hide. */
const SWITCH_FIRST = new Set(['no', 'disable', 'skip', 'without']);

/** Splits a name into lower-case words at punctuation and camelCase: `keyStorePassword` -> key, store, password. */
function nameParts(name: string): string[] {
  const out: string[] = [];
  for (const w of name.split(/[^A-Za-z0-9]+/)) {
    for (const p of w.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g) ?? []) out.push(p.toLowerCase());
  }
  return out;
}

/**
 * True when a flag, variable, option or label name says its value is a
 * secret: `--password`, `api_key`, `PGPASSWORD`, `x-auth-token`,
 * `javax.net.ssl.keyStorePassword`; not `--keyboard`, `monkey`, `--key-file`,
 * `--no-auth`, nor the shell's `PWD` (a directory).
 */
export function isSecretName(name: string): boolean {
  if (name === 'PWD' || name === 'OLDPWD') return false;
  const parts = nameParts(name);
  const last = parts[parts.length - 1];
  if (last === undefined) return false;
  // Vault's secret_id is the secret; every other *_id names one.
  if (DESCRIBES_SECRET.has(last) && !(last === 'id' && parts[parts.length - 2] === 'secret')) return false;
  if (parts.length > 1 && SWITCH_FIRST.has(parts[0]!)) return false;
  return parts.some((p) => SECRET_PARTS.has(p) || SECRET_ENDINGS.some((e) => p.endsWith(e)));
}

/** A program whose short flags carry secrets (`mysql -pX`, `curl -u user:pass`), with how. */
interface ProgramRule {
  /** Flags whose value is glued on: `-phunter2`. */
  attached?: string[];
  /** Flags whose value is the next argument: `-a hunter2`. */
  next?: string[];
  /** Flags whose value is `user<sep>password`; only the password goes. */
  userPass?: { flags: string[]; sep: string };
}

const MYSQL: ProgramRule = { attached: ['-p'] };
const MONGO: ProgramRule = { next: ['-p'] };
const REDIS: ProgramRule = { next: ['-a'] };
const CURL: ProgramRule = { userPass: { flags: ['-u', '--user', '-U', '--proxy-user'], sep: ':' } };
const REGISTRY_LOGIN: ProgramRule = { next: ['-p'] };
const MOSQUITTO: ProgramRule = { next: ['-P'] };
const LDAP: ProgramRule = { next: ['-w'] };
const FREERDP: ProgramRule = { attached: ['/p:'] };

/** Programs by the base name of argv[0]. `-p` means a password only to these; elsewhere it is a port or a path. */
const PROGRAMS: Record<string, ProgramRule> = {
  mysql: MYSQL, mysqldump: MYSQL, mysqladmin: MYSQL, mysqlimport: MYSQL, mysqlcheck: MYSQL, mysqlshow: MYSQL, mysqlpump: MYSQL,
  mariadb: MYSQL, 'mariadb-dump': MYSQL, 'mariadb-admin': MYSQL, 'mariadb-import': MYSQL, 'mariadb-check': MYSQL,
  sshpass: { attached: ['-p'], next: ['-p'] },
  'redis-cli': REDIS, 'valkey-cli': REDIS, 'keydb-cli': REDIS,
  mongo: MONGO, mongosh: MONGO, mongodump: MONGO, mongorestore: MONGO, mongoexport: MONGO, mongoimport: MONGO, mongostat: MONGO, mongotop: MONGO,
  curl: CURL,
  smbclient: { userPass: { flags: ['-U', '--user'], sep: '%' } },
  lftp: { userPass: { flags: ['-u', '--user'], sep: ',' } },
  mosquitto_pub: MOSQUITTO, mosquitto_sub: MOSQUITTO, mosquitto_rr: MOSQUITTO,
  ldapsearch: LDAP, ldapadd: LDAP, ldapmodify: LDAP, ldapdelete: LDAP, ldappasswd: LDAP, ldapwhoami: LDAP,
  sqlcmd: { next: ['-P'] },
  xfreerdp: FREERDP, wlfreerdp: FREERDP, 'sdl-freerdp': FREERDP,
};

/** Programs whose `login` subcommand takes `-p PASSWORD`. */
const REGISTRY_CLIENTS = new Set(['docker', 'podman', 'nerdctl', 'buildah', 'skopeo', 'helm', 'oras', 'crane']);

/** Words between `Authorization:` and the credential. */
const AUTH_SCHEMES = /^(bearer|basic|token|digest|negotiate|bot|key)$/i;

// `muster_<id>_<secret>` (hub/tokens.ts). The id stays (it names the token in `muster token list`); any
// length of secret goes, so one cut short by MAX_CMDLINE leaks nothing either.
const MUSTER_TOKEN = /(muster_[a-z0-9]{12}_)[A-Za-z0-9_-]+/g;
// scheme://user:password@host; the password runs to the last @ before the path, as URL parsers read it.
const URL_PASSWORD = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#]*@/g;
// scheme://TOKEN@host: a user part that is a token (GitHub's https://ghp_...@github.com), not a name like git@ or postgres@.
const URL_TOKEN_USER = /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)(?=[A-Za-z0-9_.-]*\d)(?=[A-Za-z0-9_.-]*[A-Za-z])[A-Za-z0-9_.-]{20,}@/g;
// Go's MySQL DSN: user:password@tcp(host:3306)/db, with no scheme.
const GO_DSN = /(^|[\s=])([^\s:@/=]+:)\S*?@(tcp|unix)\(/g;
// "password": "x" in JSON given as an argument.
const JSON_PAIR = /"([A-Za-z0-9_.-]+)"(\s*:\s*)"((?:[^"\\]|\\.)*)"/g;
// `name=value` at the start of a token or after ? & ; , (URL queries, option lists, connection strings).
const ASSIGNMENT = /(^|[?&;,])(["']?)([A-Za-z_][A-Za-z0-9_.-]*)=/g;
const DASH_FLAG = /^(["']?)(--?)([A-Za-z][A-Za-z0-9_.-]*)(?:=([\s\S]*))?$/;
const HEADER = /^(["']?)([A-Za-z][A-Za-z0-9_-]*):([\s\S]*)$/;
const LOOKS_LIKE_FLAG = /^--?[A-Za-z]/;

/**
 * A cheap first look: text without any of these cannot hold what the rules
 * catch, and most command lines (`nginx: worker process`) are let through
 * without being split.
 */
const TRIGGER = /pass|pwd|secret|token|key|cred|auth|cookie|muster_|@|mysql|mariadb|mongo|redis|valkey|curl|smbclient|login|lftp|mosquitto|ldap|sqlcmd|rdp/i;

/** Applies the rules that do not depend on argument boundaries. */
function redactPatterns(s: string): string {
  if (!TRIGGER.test(s)) return s;
  return s
    .replace(MUSTER_TOKEN, `$1${REDACTED}`)
    .replace(URL_PASSWORD, `$1${REDACTED}@`)
    .replace(URL_TOKEN_USER, `$1${REDACTED}@`)
    .replace(GO_DSN, `$1$2${REDACTED}@$3(`)
    .replace(JSON_PAIR, (all, name: string, colon: string) => (isSecretName(name) ? `"${name}"${colon}"${REDACTED}"` : all));
}

/** Redacts the values of secret-named `name=value` pairs in one token (`PGPASSWORD=x`, `-o user=a,password=b`, `?token=x&y=1`). */
function redactAssignments(t: string): string {
  if (!t.includes('=')) return t;
  const re = new RegExp(ASSIGNMENT);
  let out = '';
  let from = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    if (!isSecretName(m[3]!)) continue;
    const start = m.index + m[0].length;
    // In a URL query the value ends at the next parameter; elsewhere it may hold , and ; itself, so it runs to the end.
    let end = t.length;
    if (m[1] === '?' || m[1] === '&') {
      const stop = t.slice(start).search(/[&#]/);
      if (stop >= 0) end = start + stop;
    }
    if (end > start && t.slice(start, end) !== REDACTED) {
      out += t.slice(from, start) + REDACTED;
      from = end;
    }
    if (end >= t.length) break;
    re.lastIndex = end;
  }
  return out + t.slice(from);
}

/**
 * Runs the argument rules over `args` in place. `joined`: the arguments came
 * as one string split at spaces, so a quoted value may span several of them.
 */
function redactList(args: string[], joined: boolean): string[] {
  let program: ProgramRule | undefined;
  let programName = '';

  /** Where a value quoted with `q` that is not closed in args[j] ends: the first later argument ending in `q`. */
  const closing = (j: number, q: string | undefined, closed: boolean): number => {
    if (!joined || !q || closed) return j;
    for (let k = j + 1; k < args.length && k <= j + 64; k++) if (args[k]!.endsWith(q)) return k;
    return j;
  };
  /** Replaces args[i] from `at` on; a quote opened before `at` (`quote`) or at it, closed in a later argument, takes those too. */
  const redactRest = (i: number, at: number, quote?: string): void => {
    const t = args[i]!;
    const v = t.slice(at);
    if (v === '' || v === REDACTED) return;
    const q = quote ?? (v[0] === '"' || v[0] === "'" ? v[0] : undefined);
    const closed = q !== undefined && v.length > (quote ? 0 : 1) && v.endsWith(q);
    const end = closing(i, q, closed);
    args.splice(i, end - i + 1, t.slice(0, at) + REDACTED);
  };
  /** Redacts the value that follows flag i; returns how many arguments it took (0 or 1). */
  const redactNext = (i: number): number => {
    const j = i + 1;
    if (j >= args.length || LOOKS_LIKE_FLAG.test(args[j]!)) return 0;
    if (args[j] === '') args[j] = REDACTED;
    else redactRest(j, 0);
    return 1;
  };
  /** `-u user:pass`, `-uuser:pass`, `--user=user:pass`: redacts after the separator; returns arguments taken, or -1 for another flag. */
  const redactUserPass = (i: number, up: NonNullable<ProgramRule['userPass']>): number => {
    const t = args[i]!;
    for (const f of up.flags) {
      if (t === f) {
        const v = args[i + 1];
        if (v === undefined || LOOKS_LIKE_FLAG.test(v)) return 0;
        const k = v.indexOf(up.sep);
        if (k >= 0) redactRest(i + 1, k + 1);
        return 1;
      }
      const glued = f.startsWith('--') ? t.startsWith(`${f}=`) : t.startsWith(f) && t.length > f.length;
      if (glued) {
        const k = t.indexOf(up.sep, f.length + 1);
        if (k >= 0) redactRest(i, k + 1);
        return 0;
      }
    }
    return -1;
  };

  for (let i = 0; i < args.length; i++) {
    const t = args[i]!;
    if (!t) continue;
    const base = t.replace(/^["']|["']$/g, '').replace(/^.*\//, '');
    if (PROGRAMS[base]) { program = PROGRAMS[base]; programName = base; continue; }
    if (REGISTRY_CLIENTS.has(base)) { program = undefined; programName = base; continue; }
    if (t === 'login' && REGISTRY_CLIENTS.has(programName)) { program = REGISTRY_LOGIN; continue; }
    if (!program && !TRIGGER.test(t)) continue;

    if (program) {
      const f = program.attached?.find((x) => t.startsWith(x) && t.length > x.length && !t.startsWith('--'));
      if (f) { redactRest(i, f.length); continue; }
      if (program.next?.includes(t)) { i += redactNext(i); continue; }
      if (program.userPass) {
        const took = redactUserPass(i, program.userPass);
        if (took >= 0) { i += took; continue; }
      }
    }

    const dash = DASH_FLAG.exec(t);
    if (dash && (dash[2] === '--' || dash[3]!.length > 1)) {
      const [, quote, dashes, rawName, value] = dash;
      // Java system properties: -Dspring.datasource.password=x.
      const name = dashes === '-' && value !== undefined && /^D[a-z]/.test(rawName!) ? rawName!.slice(1) : rawName!;
      if (isSecretName(name)) {
        if (value === undefined) i += redactNext(i);
        else redactRest(i, t.length - value.length, quote || undefined);
      } else if (value !== undefined) {
        // --env=DB_PASSWORD=x, --set=auth.password=x: the value is an assignment of its own.
        args[i] = t.slice(0, t.length - value.length) + redactAssignments(value);
      }
      continue;
    }

    const header = HEADER.exec(t);
    if (header && isSecretName(header[2]!)) {
      const rest = header[3]!;
      if (rest === '' || AUTH_SCHEMES.test(rest)) {
        // Authorization: Bearer X -- the scheme stays, the credential goes.
        const skip = rest === '' && i + 1 < args.length && AUTH_SCHEMES.test(args[i + 1]!) ? 1 : 0;
        i += skip + redactNext(i + skip);
      } else {
        redactRest(i, t.length - rest.length, header[1] || undefined);
      }
      continue;
    }

    args[i] = redactAssignments(t);
  }
  return args;
}

/**
 * Redacts a command line given as one string, arguments joined by spaces
 * (what `ProcessInfo.cmdline` and `ContainerInfo.command` carry). Text with
 * nothing to hide comes back as the same string.
 */
export function redactCommandLine(text: string): string {
  const s = redactPatterns(text);
  if (!TRIGGER.test(s)) return s;
  const args = s.split(' ');
  const out = redactList(args, true).join(' ');
  return out === text ? text : out;
}

/**
 * Redacts an argument vector with its real boundaries (/proc/PID/cmdline,
 * Docker's Path and Args): more exact than the joined form. An argument that
 * is itself a command line (`sh -c "mysql -pX db"`) is redacted inside too.
 */
export function redactArgs(args: readonly string[]): string[] {
  const out = redactList(args.map(redactPatterns), false);
  return out.map((a) => (a.includes(' ') ? redactCommandLine(a) : a));
}

/**
 * Labels with the values of secret-named keys redacted, and URL passwords and
 * tokens redacted in the others. The same object when nothing changed.
 */
export function redactLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  let out: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(labels)) {
    const r = isSecretName(k) ? (v === '' ? v : REDACTED) : redactCommandLine(v);
    if (r === v) continue;
    out ??= { ...labels };
    out[k] = r;
  }
  return out ?? (labels as Record<string, string>);
}

/** Deploy env with every value replaced: env values are write-only, whatever their names. */
export function redactEnv(env: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.keys(env).map((k) => [k, REDACTED]));
}

/**
 * A deploy action as anyone but the agent may see it: env values redacted,
 * secrets in the command and labels too. The agent gets the action as stored.
 */
export function redactDeployAction(a: DeployAction): DeployAction {
  if (a.kind !== 'run' && a.kind !== 'replace') return a;
  const c = a.container;
  const container: ContainerSpec = {
    ...c,
    env: redactEnv(c.env),
    labels: redactLabels(c.labels),
    ...(c.command ? { command: redactArgs(c.command) } : {}),
  };
  return { ...a, container };
}
