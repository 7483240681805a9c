/**
 * Runs the one-shot deploys the hub sends: start a container as `docker run
 * -d` would, replace one by name without a gap, restart/stop/remove one, or
 * act on a systemd unit. Every step is reported as progress; the outcome is
 * recorded in the journal by job id, so a job the hub sends again (after a
 * reconnect) is answered, not run twice. Only what comes over the
 * authenticated hub link reaches this; the policy can turn deploys off or
 * limit them to some images.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ContainerSpec, DeployProgress, DeployRequest, DeployResult, DeployStep } from '../protocol/index.ts';
import type { DockerClient } from './docker-client.ts';
import type { DeployJournal } from './deploy-journal.ts';
import type { AgentLogger } from './log.ts';

/** What this agent may deploy. */
export interface DeployPolicy {
  /** False with `muster agent --no-deploy`. */
  enabled: boolean;
  /** Image patterns (`*` matches anything, `registry.lab/*`); absent = any image. */
  allowImages?: string[];
}

export interface DeployExecutorDeps {
  docker: DockerClient;
  policy: DeployPolicy;
  journal: DeployJournal;
  now: () => number;
  log: AgentLogger;
  /** Runs systemctl; injected so a host without systemd is not touched by tests. */
  systemctl?: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** Whether systemd runs this host (default: /run/systemd/system exists). */
  hasSystemd?: () => boolean;
}

export interface DeployExecutorOptions {
  /** Longest an image pull may take (default 5 min). */
  pullTimeoutMs?: number;
  /** How long a new container must stay up before it counts as running (default 1 s). */
  settleMs?: number;
  /** Longest wait for a container with a health check to report healthy (default 60 s). */
  healthTimeoutMs?: number;
}

export interface DeployExecutor {
  /** Runs the request once per id; `send` gets the progress and the result frames. */
  handle(req: DeployRequest, send: (m: DeployProgress | DeployResult) => void): Promise<DeployResult>;
}

/** A deploy step that failed, with what to tell the hub. */
class DeployFailure extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const short = (id: string) => id.slice(0, 12);

/** Whether an image matches an allow-list pattern (`*` is any run of characters). */
export function imageAllowed(image: string, patterns: readonly string[]): boolean {
  const withTag = image.includes(':') || image.includes('@') ? image : `${image}:latest`;
  return patterns.some((p) => {
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return re.test(image) || re.test(withTag);
  });
}

/** Docker's multiplexed log stream (8-byte frame headers when the container has no TTY) as text. */
export function demuxLogs(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length && (buf[i] === 1 || buf[i] === 2) && buf[i + 1] === 0) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return i === 0 ? buf.toString('utf8') : out;
}

/** The Engine API body of POST /containers/create for a spec. */
export function createBody(spec: ContainerSpec): Record<string, unknown> {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: p.hostPort ? String(p.hostPort) : '' });
  }
  return {
    Image: spec.image,
    ...(spec.command ? { Cmd: spec.command } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    ExposedPorts: exposed,
    HostConfig: {
      PortBindings: bindings,
      Binds: spec.volumes.map((v) => `${v.source}:${v.target}${v.readOnly ? ':ro' : ''}`),
      RestartPolicy: { Name: spec.restart === 'no' ? '' : spec.restart },
      ...(spec.cpus ? { NanoCpus: Math.round(spec.cpus * 1e9) } : {}),
      ...(spec.memoryBytes ? { Memory: spec.memoryBytes } : {}),
    },
  };
}

interface Inspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number; Error?: string; Health?: { Status: string } };
  Config: { Healthcheck?: { Test?: string[] } };
  HostConfig: { PortBindings?: Record<string, { HostPort?: string }[] | null> };
}

/** Creates the executor. */
export function createDeployExecutor(deps: DeployExecutorDeps, opts: DeployExecutorOptions = {}): DeployExecutor {
  const { docker, policy, journal, now, log } = deps;
  const pullTimeoutMs = opts.pullTimeoutMs ?? 5 * 60_000;
  const settleMs = opts.settleMs ?? 1_000;
  const healthTimeoutMs = opts.healthTimeoutMs ?? 60_000;
  const hasSystemd = deps.hasSystemd ?? (() => existsSync('/run/systemd/system'));
  const systemctl = deps.systemctl ?? ((args: string[]) => new Promise((resolve) => {
    execFile('systemctl', args, { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr || (err && !stdout ? err.message : '')) });
    });
  }));
  const running = new Map<string, Promise<DeployResult>>();

  const inspect = async (name: string): Promise<Inspect | undefined> => {
    try {
      return await docker.get<Inspect>(`/containers/${encodeURIComponent(name)}/json`);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  };

  async function run(req: DeployRequest, step: (s: DeployStep, m: string) => void): Promise<{ message: string; containerId?: string }> {
    const a = req.action;
    switch (a.kind) {
      case 'run': {
        if (await inspect(a.container.name)) throw new DeployFailure(`a container named ${a.container.name} exists already; replace it (muster deploy --replace) or remove it first`);
        await ensureImage(a.container, step);
        const id = await createAndStart(a.container, a.container.name, step);
        return { message: `${a.container.name} running (${short(id)})`, containerId: id };
      }
      case 'replace': return replace(a.container, req.id, step);
      case 'container': {
        const c = await inspect(a.name);
        if (!c) throw new DeployFailure(`no container named ${a.name} on this node`);
        const path = `/containers/${c.Id}`;
        if (a.action === 'remove') {
          step('remove', `removing ${a.name} (${short(c.Id)})`);
          await docker.request('DELETE', `${path}?force=true`);
          return { message: `${a.name} removed` };
        }
        step(a.action, `${a.action === 'stop' ? 'stopping' : 'restarting'} ${a.name} (${short(c.Id)})`);
        await docker.request('POST', `${path}/${a.action}?t=10`);
        if (a.action === 'restart') await waitRunning(c.Id, a.name, step);
        return { message: `${a.name} ${a.action === 'stop' ? 'stopped' : 'restarted'}`, containerId: c.Id };
      }
      case 'unit': {
        if (!hasSystemd()) throw new DeployFailure(`systemd is not running this node (no /run/systemd/system), so there is no unit ${a.unit} to ${a.action}`);
        step('unit', `systemctl ${a.action} ${a.unit}`);
        const r = await systemctl([a.action, '--', a.unit]);
        if (r.code !== 0) throw new DeployFailure(`systemctl ${a.action} ${a.unit} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
        const state = await systemctl(['is-active', '--', a.unit]);
        return { message: `${a.unit} ${a.action === 'stop' ? 'stopped' : `${a.action}ed`}; now ${state.stdout.trim() || 'unknown'}` };
      }
    }
  }

  async function ensureImage(spec: ContainerSpec, step: (s: DeployStep, m: string) => void): Promise<void> {
    try {
      await docker.get(`/images/${encodeURIComponent(spec.image)}/json`);
      step('pull', `${spec.image}: already present`);
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    step('pull', `pulling ${spec.image}${spec.platform ? ` for ${spec.platform}` : ''}`);
    let last = 0;
    let error: string | undefined;
    const q = `fromImage=${encodeURIComponent(spec.image)}${spec.platform ? `&platform=${encodeURIComponent(spec.platform)}` : ''}`;
    try {
      await docker.stream('POST', `/images/create?${q}`, (line) => {
        if (typeof line.error === 'string') error = line.error;
        const status = typeof line.status === 'string' ? line.status : undefined;
        // Layer progress arrives many times a second; a line every 2 s is enough to show it moves.
        if (status && now() - last > 2_000) {
          last = now();
          step('pull', `${typeof line.id === 'string' ? `${line.id}: ` : ''}${status}${typeof line.progress === 'string' ? ` ${line.progress}` : ''}`);
        }
      }, pullTimeoutMs);
    } catch (err) {
      throw new DeployFailure(`pulling ${spec.image} failed: ${(err as Error).message}`);
    }
    if (error) throw new DeployFailure(`pulling ${spec.image} failed: ${error}`);
    step('pull', `${spec.image}: pulled`);
  }

  async function createAndStart(spec: ContainerSpec, name: string, step: (s: DeployStep, m: string) => void): Promise<string> {
    const q = `name=${encodeURIComponent(name)}${spec.platform ? `&platform=${encodeURIComponent(spec.platform)}` : ''}`;
    let id: string;
    try {
      const { body } = await docker.request<{ Id: string; Warnings?: string[] }>('POST', `/containers/create?${q}`, createBody(spec));
      id = body!.Id;
      for (const w of body?.Warnings ?? []) step('create', `warning: ${w}`);
    } catch (err) {
      throw new DeployFailure(`creating ${name} failed: ${(err as Error).message}`);
    }
    step('create', `created ${name} (${short(id)})`);
    try {
      await docker.request('POST', `/containers/${id}/start`);
    } catch (err) {
      await docker.request('DELETE', `/containers/${id}?force=true`).catch(() => undefined);
      throw new DeployFailure(`starting ${name} failed: ${(err as Error).message}`);
    }
    try {
      await waitRunning(id, name, step);
    } catch (err) {
      await docker.request('DELETE', `/containers/${id}?force=true`).catch(() => undefined);
      throw err;
    }
    return id;
  }

  /** Waits until the container has stayed up for settleMs and, with a health check, is healthy. */
  async function waitRunning(id: string, name: string, step: (s: DeployStep, m: string) => void): Promise<void> {
    step('start', `started ${name}; checking it stays up`);
    await sleep(settleMs);
    let c = await inspect(id);
    if (!c?.State.Running) {
      const logs = await docker.raw(`/containers/${id}/logs?stdout=1&stderr=1&tail=20`).then(demuxLogs, () => '');
      throw new DeployFailure(`${name} did not keep running: ${c ? `${c.State.Status}, exit code ${c.State.ExitCode}${c.State.Error ? `, ${c.State.Error}` : ''}` : 'it is gone'}` +
        `${logs.trim() ? `; last output:\n${logs.trim().slice(-2000)}` : ''}`);
    }
    if (!c.Config.Healthcheck?.Test || c.Config.Healthcheck.Test[0] === 'NONE') {
      step('start', `${name} running`);
      return;
    }
    step('health', `${name} running; waiting for its health check`);
    const until = now() + healthTimeoutMs;
    while (c?.State.Health?.Status !== 'healthy') {
      if (c?.State.Health?.Status === 'unhealthy' || !c?.State.Running) throw new DeployFailure(`${name} is ${c?.State.Health?.Status ?? c?.State.Status ?? 'gone'}`);
      if (now() > until) throw new DeployFailure(`${name} was not healthy within ${Math.round(healthTimeoutMs / 1000)} s (${c.State.Health?.Status ?? 'no status'})`);
      await sleep(500);
      c = await inspect(id);
    }
    step('health', `${name} healthy`);
  }

  /**
   * Starts the new container beside the old one and removes the old one only
   * once the new one runs. When both would publish the same fixed host port,
   * they cannot run side by side: the old one is stopped first and started
   * again if the new one fails.
   */
  async function replace(spec: ContainerSpec, jobId: string, step: (s: DeployStep, m: string) => void): Promise<{ message: string; containerId: string }> {
    const old = await inspect(spec.name);
    await ensureImage(spec, step);
    if (!old) {
      step('create', `no container named ${spec.name} yet; starting one`);
      const id = await createAndStart(spec, spec.name, step);
      return { message: `${spec.name} running (${short(id)}); there was none to replace`, containerId: id };
    }
    const suffix = jobId.replace(/[^a-zA-Z0-9_.-]/g, '').slice(-12);
    const oldPorts = new Set(Object.values(old.HostConfig.PortBindings ?? {}).flatMap((b) => (b ?? []).map((x) => x.HostPort)).filter((p) => p && p !== '0'));
    const clash = spec.ports.some((p) => p.hostPort !== undefined && oldPorts.has(String(p.hostPort)));
    const tempName = `${spec.name}-new-${suffix}`.slice(0, 128);
    const oldName = `${spec.name}-old-${suffix}`.slice(0, 128);
    if (clash) {
      step('stop-old', `the new container publishes the same host port as ${spec.name}: stopping the old one first`);
      await docker.request('POST', `/containers/${old.Id}/stop?t=10`);
      let id: string;
      try {
        id = await createAndStart(spec, tempName, step);
      } catch (err) {
        step('stop-old', `the new container failed; starting ${spec.name} again`);
        await docker.request('POST', `/containers/${old.Id}/start`).catch((e: Error) => step('stop-old', `restarting the old container failed too: ${e.message}`));
        throw err;
      }
      await docker.request('DELETE', `/containers/${old.Id}?force=true`);
      await docker.request('POST', `/containers/${id}/rename?name=${encodeURIComponent(spec.name)}`);
      return { message: `${spec.name} replaced (${short(old.Id)} -> ${short(id)}), with a short stop: same host port`, containerId: id };
    }
    const id = await createAndStart(spec, tempName, step);
    step('stop-old', `new container runs; stopping and removing the old ${spec.name} (${short(old.Id)})`);
    await docker.request('POST', `/containers/${old.Id}/rename?name=${encodeURIComponent(oldName)}`);
    await docker.request('POST', `/containers/${old.Id}/stop?t=10`);
    await docker.request('DELETE', `/containers/${old.Id}?force=true`);
    await docker.request('POST', `/containers/${id}/rename?name=${encodeURIComponent(spec.name)}`);
    return { message: `${spec.name} replaced (${short(old.Id)} -> ${short(id)})`, containerId: id };
  }

  function refusal(req: DeployRequest): string | undefined {
    if (!policy.enabled) return 'deploys are turned off on this node (muster agent --no-deploy)';
    const a = req.action;
    if ((a.kind === 'run' || a.kind === 'replace') && policy.allowImages && !imageAllowed(a.container.image, policy.allowImages)) {
      return `image ${a.container.image} is not allowed on this node (--allow-image ${policy.allowImages.join(', ')})`;
    }
    if (now() > req.deadline) return `the job arrived after its deadline (${new Date(req.deadline).toISOString()})`;
    return undefined;
  }

  return {
    handle(req, send) {
      const done = journal.get(req.id);
      if (done) {
        send(done);
        return Promise.resolve(done);
      }
      const inFlight = running.get(req.id);
      if (inFlight) return inFlight;
      const step = (s: DeployStep, message: string) => send({ type: 'deployProgress', id: req.id, ts: now(), step: s, message: message.slice(0, 4096) });
      const finish = (outcome: DeployResult['outcome'], message: string, containerId?: string): DeployResult => {
        const result: DeployResult = { type: 'deployResult', id: req.id, ts: now(), outcome, message: message.slice(0, 4096), ...(containerId ? { containerId } : {}) };
        try { journal.record(result); } catch (err) { log.warn('could not record a deploy result', { id: req.id, err: (err as Error).message }); }
        send(result);
        return result;
      };
      const refused = refusal(req);
      if (refused) {
        log.warn('deploy refused', { id: req.id, reason: refused });
        return Promise.resolve(finish('refused', refused));
      }
      const p = (async () => {
        step('accepted', `accepted by the agent`);
        log.info('deploy started', { id: req.id, kind: req.action.kind });
        try {
          const r = await run(req, step);
          log.info('deploy succeeded', { id: req.id, message: r.message });
          return finish('succeeded', r.message, r.containerId);
        } catch (err) {
          const message = err instanceof DeployFailure ? err.message : `unexpected error: ${(err as Error).message}`;
          log.warn('deploy failed', { id: req.id, message });
          return finish('failed', message);
        } finally {
          running.delete(req.id);
        }
      })();
      running.set(req.id, p);
      return p;
    },
  };
}
