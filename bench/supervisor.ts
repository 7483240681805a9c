/**
 * Every process a bench starts goes through a supervisor, so that all of them
 * are stopped when the bench ends: on success, on an error, and on Ctrl-C or
 * SIGTERM. Temporary directories it hands out are removed afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './bench-args.ts';

/** A process started by the supervisor. */
export interface Managed {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last 64 KiB the process printed (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
  stop(): Promise<number | string>;
}

/** How to start a process. */
export interface StartOptions {
  /** Pin the process (and every thread it makes) to this CPU with `taskset -c`. */
  cpu?: number;
  /** Raise the soft limit on open files to this before exec (`ulimit -n`, no higher than the hard limit). */
  openFiles?: number;
  /** Open an IPC channel (for a Node child that talks to the bench with process.send). */
  ipc?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Starts processes and temporary directories, and takes them all down again. */
export interface Supervisor {
  start(name: string, command: string, args: readonly string[], opts?: StartOptions): Managed;
  /** A fresh directory under the system temp dir, removed by stopAll(). */
  tempDir(prefix: string): string;
  /** Stops every process still running (newest first) and removes the temp dirs. */
  stopAll(): Promise<void>;
  /** Last resort when the bench itself is exiting: SIGKILL to every process still running. */
  killAll(): void;
}

const OUTPUT_CAP = 64 * 1024;

/**
 * The argv that applies the wrappers: `sh -c 'ulimit -n N && exec "$@"'` and
 * `taskset -c CPU` both exec what follows, so the pid stays the real program's.
 */
export function wrappedCommand(command: string, args: readonly string[], opts: StartOptions): [string, string[]] {
  let argv = [command, ...args];
  if (opts.cpu !== undefined) argv = ['taskset', '-c', String(opts.cpu), ...argv];
  if (opts.openFiles !== undefined) argv = ['sh', '-c', 'ulimit -n "$0" && exec "$@"', String(opts.openFiles), ...argv];
  return [argv[0]!, argv.slice(1)];
}

/** Creates an empty supervisor. */
export function createSupervisor(): Supervisor {
  const procs: Managed[] = [];
  const dirs: string[] = [];

  return {
    start(name, command, args, opts = {}) {
      const [cmd, argv] = wrappedCommand(command, args, opts);
      const child = spawn(cmd, argv, {
        stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
        env: opts.env ?? process.env,
      });
      if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
      let out = '';
      const keep = (d: Buffer) => {
        out += d.toString();
        if (out.length > OUTPUT_CAP) out = out.slice(-OUTPUT_CAP);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
      const running = () => child.exitCode === null && child.signalCode === null;
      const managed: Managed = {
        name,
        pid: child.pid,
        child,
        output: () => out,
        exited,
        running,
        async stop() {
          if (running()) child.kill('SIGTERM');
          const t = setTimeout(() => { if (running()) child.kill('SIGKILL'); }, 5_000);
          const r = await exited;
          clearTimeout(t);
          return r;
        },
      };
      procs.push(managed);
      return managed;
    },
    tempDir(prefix) {
      const dir = mkdtempSync(join(tmpdir(), `muster-bench-${prefix}-`));
      dirs.push(dir);
      return dir;
    },
    async stopAll() {
      for (const p of procs.splice(0).reverse()) await p.stop();
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
    killAll() {
      for (const p of procs) if (p.running()) p.child.kill('SIGKILL');
    },
  };
}

/**
 * Runs a bench's main function with a supervisor and exits with its code:
 * 2 for a UsageError (printed with `usage`), 1 for any other error,
 * 130/143 on SIGINT/SIGTERM. Whatever happens, every process is stopped first.
 */
export function runBench(usage: string, main: (sup: Supervisor) => Promise<number>): void {
  const sup = createSupervisor();
  let ending = false;
  const end = (code: number) => {
    if (ending) return;
    ending = true;
    void sup.stopAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => { process.stderr.write('\ninterrupted: stopping the processes this bench started\n'); end(130); });
  process.once('SIGTERM', () => end(143));
  process.once('exit', () => sup.killAll());
  main(sup).then(end, (err: unknown) => {
    if (err instanceof UsageError) process.stderr.write(`${err.message}\n\n${usage}`);
    else process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    end(err instanceof UsageError ? 2 : 1);
  });
}
