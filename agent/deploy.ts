/**
 * Runs the one-shot deploys the hub sends: start a container as `docker run
 * -d` would, replace one by name without a gap, restart/stop/remove one, or
 * act on a systemd unit. Every step is reported as progress; the outcome is
 * recorded in the journal by job id, so a job the hub sends again (after a
 * reconnect) is answered, not run twice. Only what comes over the
 * authenticated hub link reaches this, and the agent's own policy
 * (deploy-policy.ts) decides what of it may run: deploys off, some images
 * only, no host paths, privileges or host namespaces unless allowed, no
 * protected units. A refusal runs nothing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describeAction } from '../protocol/plain.ts';
import type { ContainerSpec, DeployAction, DeployProgress, DeployRequest, DeployResult, DeployStep } from '../protocol/index.ts';
import type { DockerClient } from './docker-client.ts';
import type { DeployJournal } from './deploy-journal.ts';
import type { AgentLogger } from './log.ts';
import { createDeployPolicy, type DeployPolicy } from './deploy-policy.ts';

export type { DeployPolicy } from './deploy-policy.ts';

export interface DeployExecutorDeps {
  docker: DockerClient;
  policy: DeployPolicy;
  journal: DeployJournal;
  now: () => number;
  log: AgentLogger;
  /** Runs systemctl; injected so a host without systemd is not touched by tests. */
  systemctl?: (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** Whether systemd runs this host (default: /run/systemd/system exists, systemd's own test). */
  hasSystemd?: () => boolean;
  /** The systemd unit the agent runs in, if any: refused like muster-agent.service. */
  ownUnit?: string;
}

export interface DeployExecutorOptions {
  /** Longest an image pull may take (default 5 min). */
  pullTimeoutMs?: number;
  /** How long a new container must stay up before it counts as running (default 1 s). */
  settleMs?: number;
  /** Longest wait for a container with a health check to report healthy (default 60 s). */
  healthTimeoutMs?: number;
  /** Seconds `stop` gives a container before Docker kills it (default 10, as `docker stop`). */
  stopTimeoutS?: number;
}

/** Runs deploy requests, each job id once. */
export interface DeployExecutor {
  /** Runs the request once per id; `send` gets the progress and the result frames. */
  handle(req: DeployRequest, send: (m: DeployProgress | DeployResult) => void): Promise<DeployResult>;
}

/** A deploy step that failed, with what to tell the hub (and the container left running, if any). */
class DeployFailure extends Error {
  readonly containerId: string | undefined;
  constructor(message: string, containerId?: string) {
    super(message);
    this.containerId = containerId;
  }
}

type Step = (s: DeployStep, m: string) => void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const short = (id: string) => id.slice(0, 12);
/** An error's text without the client's `Docker METHOD /path: ` prefix: the daemon's own words are what a person needs. */
const errText = (err: unknown) => (err as Error).message.replace(/^Docker [A-Z]+ \S+: /, '');

/** An image reference split as Docker reads it: the colon of a registry port is not a tag. */
export function parseImageRef(image: string): { name: string; tag?: string; digest?: string } {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const rest = at >= 0 ? image.slice(0, at) : image;
  const colon = rest.lastIndexOf(':');
  const tagged = colon > rest.lastIndexOf('/');
  return {
    name: tagged ? rest.slice(0, colon) : rest,
    ...(tagged ? { tag: rest.slice(colon + 1) } : {}),
    ...(digest ? { digest } : {}),
  };
}

/**
 * Whether an image matches an allow-list pattern (`*` is any run of
 * characters). An image without a tag is also tried as `:latest`, so the
 * pattern `nginx:latest` allows `nginx`.
 */
export function imageAllowed(image: string, patterns: readonly string[]): boolean {
  const ref = parseImageRef(image);
  const withTag = ref.tag || ref.digest ? image : `${image}:latest`;
  return patterns.some((p) => {
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return re.test(image) || re.test(withTag);
  });
}

/** Docker's multiplexed log stream (8-byte frame headers when the container has no TTY) as text. */
export function demuxLogs(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length && (buf[i] === 0 || buf[i] === 1 || buf[i] === 2) && buf[i + 1] === 0 && buf[i + 2] === 0 && buf[i + 3] === 0) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  // No header at the start: a TTY container, whose output is the bytes as written.
  return i === 0 ? buf.toString('utf8') : out;
}

/** The Engine API body of POST /containers/create for a spec. */
export function createBody(spec: ContainerSpec): Record<string, unknown> {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    exposed[key] = {};
    // An empty HostPort asks Docker for a free one, as `docker run -p 8080` does.
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
      ...(spec.privileged ? { Privileged: true } : {}),
      ...(spec.network ? { NetworkMode: spec.network } : {}),
      ...(spec.pid ? { PidMode: spec.pid } : {}),
      ...(spec.devices?.length ? {
        Devices: spec.devices.map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.containerPath ?? d.hostPath, CgroupPermissions: d.permissions ?? 'rwm' })),
      } : {}),
      ...(spec.capAdd?.length ? { CapAdd: spec.capAdd } : {}),
    },
  };
}

/** What two jobs must not do at the same time: act on the same container name or unit. */
function targetOf(a: DeployAction): string {
  switch (a.kind) {
    case 'run': case 'replace': return `container:${a.container.name}`;
    case 'container': return `container:${a.name}`;
    case 'unit': return `unit:${a.unit}`;
  }
}

interface Inspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number; Error?: string; Health?: { Status: string } };
  Config: { Healthcheck?: { Test?: string[] } };
  HostConfig: { PortBindings?: Record<string, { HostPort?: string }[] | null> };
}

/** Runs systemctl without a shell; a missing binary is exit code 127, like a shell would say. */
function runSystemctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('systemctl', args, { timeout: 120_000 }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout: String(stdout), stderr: String(stderr) });
      const code = (err as { code?: unknown }).code;
      resolve({ code: typeof code === 'number' ? code : 127, stdout: String(stdout), stderr: String(stderr) || err.message });
    });
  });
}

/** Creates the executor; it holds no timers, so there is nothing to close. */
export function createDeployExecutor(deps: DeployExecutorDeps, opts: DeployExecutorOptions = {}): DeployExecutor {
  const { docker, policy, journal, now, log } = deps;
  const pullTimeoutMs = opts.pullTimeoutMs ?? 5 * 60_000;
  const settleMs = opts.settleMs ?? 1_000;
  const healthTimeoutMs = opts.healthTimeoutMs ?? 60_000;
  const stopT = opts.stopTimeoutS ?? 10;
  const hasSystemd = deps.hasSystemd ?? (() => existsSync('/run/systemd/system'));
  const systemctl = deps.systemctl ?? runSystemctl;
  const running = new Map<string, Promise<DeployResult>>();
  const busy = new Map<string, Promise<void>>();
  const policyCheck = createDeployPolicy({
    policy,
    ...(deps.ownUnit ? { ownUnit: deps.ownUnit } : {}),
    networkDriver: async (name) => {
      try {
        return (await docker.get<{ Driver?: string }>(`/networks/${encodeURIComponent(name)}`)).Driver;
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined;
        throw err;
      }
    },
    unitNames: async (unit) => {
      if (!hasSystemd()) return [];
      const r = await systemctl(['show', '--property=Id,Names', '--', unit]);
      if (r.code !== 0) return [];
      return r.stdout.split('\n').flatMap((l) => (/^(Id|Names)=/.test(l) ? l.slice(l.indexOf('=') + 1).split(/\s+/).filter(Boolean) : []));
    },
  });

  const inspect = async (nameOrId: string): Promise<Inspect | undefined> => {
    try {
      return await docker.get<Inspect>(`/containers/${encodeURIComponent(nameOrId)}/json`);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return undefined;
      throw err;
    }
  };
  const remove = (id: string) => docker.request('DELETE', `/containers/${id}?force=true`);
  const rename = (id: string, name: string) => docker.request('POST', `/containers/${id}/rename?name=${encodeURIComponent(name)}`);
  // The HTTP call outlasts the stop timeout: Docker answers only once the container is down.
  const stop = (id: string) => docker.request('POST', `/containers/${id}/stop?t=${stopT}`);

  /**
   * Takes a place in the queue of jobs on a target, in the order jobs arrive
   * (taken before the policy check, which may take a while for one job and
   * not for the next). `before` is undefined when no other job is ahead.
   */
  function reserve(target: string): { before: Promise<void> | undefined; release: () => void } {
    const before = busy.get(target);
    let done!: () => void;
    const mine = new Promise<void>((r) => { done = r; });
    const tail = (before ?? Promise.resolve()).then(() => mine);
    busy.set(target, tail);
    return {
      before,
      release: () => {
        done();
        if (busy.get(target) === tail) busy.delete(target);
      },
    };
  }

  async function run(a: DeployAction, jobId: string, step: Step): Promise<{ message: string; containerId?: string }> {
    switch (a.kind) {
      case 'run': {
        if (await inspect(a.container.name)) throw new DeployFailure(`a container named ${a.container.name} exists already; replace it (muster deploy --replace) or remove it first`);
        await ensureImage(a.container, step);
        const id = await createAndStart(a.container, a.container.name, step);
        return { message: `${a.container.name} running (${short(id)})`, containerId: id };
      }
      case 'replace': return replace(a.container, jobId, step);
      case 'container': {
        const c = await inspect(a.name);
        if (!c) throw new DeployFailure(`no container named ${a.name} on this node`);
        if (a.action === 'remove') {
          // Stopped first, so the process gets its SIGTERM as with `docker stop`, not a SIGKILL.
          if (c.State.Running) {
            step('stop', `stopping ${a.name} (${short(c.Id)})`);
            await stop(c.Id);
          }
          step('remove', `removing ${a.name} (${short(c.Id)})`);
          await remove(c.Id);
          return { message: `${a.name} removed` };
        }
        if (a.action === 'stop') {
          step('stop', `stopping ${a.name} (${short(c.Id)})`);
          await stop(c.Id);
          return { message: `${a.name} stopped`, containerId: c.Id };
        }
        step('restart', `restarting ${a.name} (${short(c.Id)})`);
        await docker.request('POST', `/containers/${c.Id}/restart?t=${stopT}`);
        await waitRunning(c.Id, a.name, step);
        return { message: `${a.name} restarted`, containerId: c.Id };
      }
      case 'unit': {
        if (!hasSystemd()) {
          throw new DeployFailure(`systemd is not running this node (it is not PID 1: no /run/systemd/system), so there is no unit ${a.unit} to ${a.action}`);
        }
        step('unit', `systemctl ${a.action} ${a.unit}`);
        const r = await systemctl([a.action, '--', a.unit]);
        if (r.code !== 0) throw new DeployFailure(`systemctl ${a.action} ${a.unit} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
        const state = await systemctl(['is-active', '--', a.unit]);
        return { message: `${a.unit} ${a.action === 'stop' ? 'stopped' : `${a.action}ed`}; now ${state.stdout.trim() || 'unknown'}` };
      }
    }
  }

  async function ensureImage(spec: ContainerSpec, step: Step): Promise<void> {
    try {
      // Path segments encoded one by one: the Engine routes `repo/name` with its slash.
      await docker.get(`/images/${spec.image.split('/').map(encodeURIComponent).join('/')}/json`);
      step('pull', `pulling ${spec.image}: already present`);
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw new DeployFailure(`looking up the image ${spec.image} failed: ${errText(err)}`);
    }
    step('pull', `pulling ${spec.image}${spec.platform ? ` for ${spec.platform}` : ''}`);
    // Without a tag the Engine pulls every tag of the repository; `docker pull` sends `latest`.
    const ref = parseImageRef(spec.image);
    const q = new URLSearchParams({ fromImage: ref.name, tag: ref.digest ?? ref.tag ?? 'latest' });
    if (spec.platform) q.set('platform', spec.platform);
    let last = 0;
    let error: string | undefined;
    try {
      await docker.stream('POST', `/images/create?${q}`, (line) => {
        const detail = (line.errorDetail as { message?: unknown } | undefined)?.message;
        if (typeof line.error === 'string' || typeof detail === 'string') error = String(line.error ?? detail);
        const status = typeof line.status === 'string' ? line.status : undefined;
        // Layer progress arrives many times a second; a line every 2 s shows it moves without flooding the hub.
        if (status && now() - last >= 2_000) {
          last = now();
          step('pull', `${typeof line.id === 'string' ? `${line.id}: ` : ''}${status}${typeof line.progress === 'string' ? ` ${line.progress}` : ''}`);
        }
      }, pullTimeoutMs);
    } catch (err) {
      throw new DeployFailure(`pulling ${spec.image} failed: ${errText(err)}`);
    }
    if (error) throw new DeployFailure(`pulling ${spec.image} failed: ${error}`);
    step('pull', `pulled ${spec.image}`);
  }

  /** Creates and starts a container; when it does not keep running it is removed again. */
  async function createAndStart(spec: ContainerSpec, name: string, step: Step): Promise<string> {
    const q = new URLSearchParams({ name });
    if (spec.platform) q.set('platform', spec.platform);
    let id: string;
    try {
      const { body } = await docker.request<{ Id: string; Warnings?: string[] | null }>('POST', `/containers/create?${q}`, createBody(spec));
      if (!body?.Id) throw new Error('the Engine answered without a container id');
      id = body.Id;
      for (const w of body.Warnings ?? []) step('create', `warning: ${w}`);
    } catch (err) {
      throw new DeployFailure(`creating ${name} failed: ${errText(err)}`);
    }
    step('create', `created ${name} (${short(id)})`);
    try {
      await docker.request('POST', `/containers/${id}/start`);
    } catch (err) {
      await remove(id).catch(() => undefined);
      throw new DeployFailure(`starting ${name} failed: ${errText(err)}`);
    }
    try {
      await waitRunning(id, name, step);
    } catch (err) {
      await remove(id).catch(() => undefined);
      throw err;
    }
    return id;
  }

  /** Waits until the container has stayed up for settleMs and, with a health check, is healthy. */
  async function waitRunning(id: string, name: string, step: Step): Promise<void> {
    await sleep(settleMs);
    let c = await inspect(id);
    if (!c?.State.Running) {
      const logs = c ? await docker.raw(`/containers/${id}/logs?stdout=1&stderr=1&tail=20`).then(demuxLogs, () => '') : '';
      const tail = logs.trim().slice(-1500);
      throw new DeployFailure(`${name} did not keep running: ${c ? `${c.State.Status}, exit code ${c.State.ExitCode}${c.State.Error ? `, ${c.State.Error}` : ''}` : 'it is gone'}` +
        `${tail ? `; last output:\n${tail}` : '; no output'}`);
    }
    if (!c.Config.Healthcheck?.Test?.length || c.Config.Healthcheck.Test[0] === 'NONE') {
      step('start', `started ${name}; running`);
      return;
    }
    step('health', `started ${name}; waiting for its health check (up to ${Math.round(healthTimeoutMs / 1000)} s)`);
    const until = now() + healthTimeoutMs;
    while (c?.State.Health?.Status !== 'healthy') {
      if (!c?.State.Running) throw new DeployFailure(`${name} stopped while its health check ran: ${c ? `${c.State.Status}, exit code ${c.State.ExitCode}` : 'it is gone'}`);
      if (c.State.Health?.Status === 'unhealthy') throw new DeployFailure(`${name} is unhealthy`);
      if (now() > until) throw new DeployFailure(`${name} was not healthy within ${Math.round(healthTimeoutMs / 1000)} s (${c.State.Health?.Status ?? 'no status'})`);
      await sleep(500);
      c = await inspect(id);
    }
    step('health', `${name} healthy`);
  }

  /**
   * Starts the new container beside the old one, and stops and removes the
   * old one only once the new one runs (and is healthy, with a health check).
   * Two containers cannot publish the same fixed host port, so in that case
   * the old one is stopped first and started again if the new one fails.
   */
  async function replace(spec: ContainerSpec, jobId: string, step: Step): Promise<{ message: string; containerId: string }> {
    const old = await inspect(spec.name);
    await ensureImage(spec, step);
    if (!old) {
      step('create', `no container named ${spec.name} yet; starting one`);
      const id = await createAndStart(spec, spec.name, step);
      return { message: `${spec.name} running (${short(id)}); there was none to replace`, containerId: id };
    }
    // The job id in the temporary names: a job sent again after an agent crash finds its own leftovers.
    const suffix = jobId.slice(-24);
    const base = spec.name.slice(0, 128 - suffix.length - 5);
    const tempName = `${base}-new-${suffix}`;
    const oldName = `${base}-old-${suffix}`;
    const stale = await inspect(tempName);
    if (stale) await remove(stale.Id);

    const oldPorts = new Set(Object.values(old.HostConfig.PortBindings ?? {}).flatMap((b) => (b ?? []).map((x) => x.HostPort)).filter((p) => p && p !== '0'));
    const clash = old.State.Running && spec.ports.some((p) => p.hostPort !== undefined && oldPorts.has(String(p.hostPort)));
    if (clash) {
      step('stop-old', `the new container publishes a host port ${spec.name} holds: stopping the old one first`);
      await stop(old.Id);
      let id: string;
      try {
        id = await createAndStart(spec, tempName, step);
      } catch (err) {
        step('stop-old', `the new container failed; starting the old ${spec.name} again`);
        await docker.request('POST', `/containers/${old.Id}/start`).catch((e: Error) => step('stop-old', `starting the old container again failed too: ${e.message}`));
        throw err;
      }
      await swapIn(old.Id, id, spec.name, oldName, false, step);
      return { message: `${spec.name} replaced (${short(old.Id)} -> ${short(id)}), with a short stop: same host port`, containerId: id };
    }
    const id = await createAndStart(spec, tempName, step);
    await swapIn(old.Id, id, spec.name, oldName, old.State.Running, step);
    return { message: `${spec.name} replaced (${short(old.Id)} -> ${short(id)})`, containerId: id };
  }

  /**
   * Gives the running new container the name and retires the old one. The
   * renames come first, so the name points at a running container all along;
   * the old one serves until its stop.
   */
  async function swapIn(oldId: string, newId: string, name: string, oldName: string, stopOld: boolean, step: Step): Promise<void> {
    try {
      await rename(oldId, oldName);
    } catch (err) {
      await remove(newId).catch(() => undefined);
      throw new DeployFailure(`renaming the old ${name} aside failed, so it was left as it was: ${errText(err)}`);
    }
    try {
      await rename(newId, name);
    } catch (err) {
      await remove(newId).catch(() => undefined);
      await rename(oldId, name).catch(() => undefined);
      throw new DeployFailure(`giving the new container the name ${name} failed; the old one keeps it: ${errText(err)}`);
    }
    step('stop-old', `${name} is now ${short(newId)}; stopping and removing the old one (${short(oldId)})`);
    try {
      if (stopOld) await stop(oldId);
      await remove(oldId);
    } catch (err) {
      throw new DeployFailure(`${name} runs the new container (${short(newId)}), but removing the old one (${oldName}) failed: ${errText(err)}`, newId);
    }
  }

  /** Every reason to refuse the job (empty: run it), and the action as the policy vetted it. */
  async function refusal(req: DeployRequest): Promise<{ reason?: string; action: DeployAction }> {
    if (!policy.enabled) return { reason: 'deploys are turned off on this node (muster agent --no-deploy)', action: req.action };
    const a = req.action;
    const reasons: string[] = [];
    if ((a.kind === 'run' || a.kind === 'replace') && policy.allowImages && !imageAllowed(a.container.image, policy.allowImages)) {
      reasons.push(`image ${a.container.image} is not allowed on this node (--allow-image ${policy.allowImages.join(', ')})`);
    }
    const verdict = await policyCheck.check(a);
    reasons.push(...verdict.refusals);
    if (reasons.length) return { reason: reasons.join('; '), action: a };
    if (now() > req.deadline) return { reason: `the job arrived after its deadline (${new Date(req.deadline).toISOString()}); nothing was run`, action: a };
    return { action: verdict.action };
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
      const step: Step = (s, message) => send({ type: 'deployProgress', id: req.id, ts: now(), step: s, message: message.slice(0, 4096) });
      const finish = (outcome: DeployResult['outcome'], message: string, containerId?: string): DeployResult => {
        const result: DeployResult = { type: 'deployResult', id: req.id, ts: now(), outcome, message: message.slice(0, 4096), ...(containerId ? { containerId } : {}) };
        try {
          journal.record(result);
        } catch (err) {
          // The result still goes out; only a repeat of the job after a restart could run it again.
          log.warn('could not record a deploy result', { id: req.id, err: errText(err) });
        }
        send(result);
        return result;
      };
      // Jobs on the same target run one after the other, in the order they came; jobs on other targets run alongside.
      const slot = reserve(targetOf(req.action));
      const attempt = async (): Promise<DeployResult> => {
        let checked: Awaited<ReturnType<typeof refusal>>;
        try {
          checked = await refusal(req);
        } catch (err) {
          // A policy that cannot be checked is a policy that says no.
          checked = { reason: `the agent could not check this job against its policy, so nothing was run: ${errText(err)}`, action: req.action };
        }
        if (checked.reason) {
          log.warn('deploy refused', { id: req.id, reason: checked.reason });
          return finish('refused', checked.reason);
        }
        const action = checked.action;
        step('accepted', `accepted: ${describeAction(action)}`);
        log.info('deploy started', { id: req.id, action: describeAction(action) });
        try {
          if (slot.before) {
            step('accepted', 'waiting for another job on the same target to finish');
            await slot.before;
          }
          const r = await run(action, req.id, step);
          log.info('deploy succeeded', { id: req.id, message: r.message });
          return finish('succeeded', r.message, r.containerId);
        } catch (err) {
          const message = err instanceof DeployFailure ? err.message : `unexpected error: ${errText(err)}`;
          log.warn('deploy failed', { id: req.id, message });
          return finish('failed', message, err instanceof DeployFailure ? err.containerId : undefined);
        }
      };
      // Set before the policy check ends, so the same job sent again meanwhile gets this promise.
      const p = attempt().finally(() => {
        slot.release();
        running.delete(req.id);
      });
      running.set(req.id, p);
      return p;
    },
  };
}
