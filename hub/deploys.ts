/**
 * Deploy jobs: one-shot commands the hub sends to one agent. A job is
 * stored before anything is sent, goes queued -> sent -> running ->
 * succeeded | failed | timed out, and collects the agent's progress lines.
 * A job for an offline node waits in the queue until its deadline. Sending is
 * at-least-once (again after every reconnect of the node, and after a hub
 * restart); the agent runs each job id once and answers a repeat with the
 * result it recorded, so a job never runs twice.
 */
import { describeAction, redactCommandLine, type DeployAction, type DeployProgress, type DeployRequest, type DeployResult } from '../protocol/index.ts';
import type { Logger } from './agent-gateway.ts';
import { OPEN_STATES, type JobOutputLine, type JobRecord, type JobState, type JobStore } from './job-store.ts';

/** How the deploy service reaches agents. */
export interface DeployLink {
  /** Sends to the node's live link; false when it has none. */
  send(nodeId: number, msg: DeployRequest): boolean;
}

export interface DeployServiceDeps {
  jobs: JobStore;
  link: DeployLink;
  now: () => number;
  log: Logger;
  /** A fresh job id (random); injected so tests can name jobs. */
  newId: () => string;
  /** Hears of every job that ended, as stored then: the audit log records how each deploy ended, under who asked. */
  onEnd?: (job: JobRecord) => void;
}

export interface DeployServiceOptions {
  /** How long a job waits for its node to come online (default 10 min). */
  queueTimeoutMs?: number;
  /** How long a sent job may run before it is given up as timed out (default 15 min). */
  runTimeoutMs?: number;
  /** How often deadlines are checked (default 1 s). */
  sweepEveryMs?: number;
}

/** What a caller asks for. */
export interface DeploySubmission {
  /** Chosen by the caller to make retries safe; a fresh one when absent. */
  id?: string;
  node: { id: number; name: string };
  action: DeployAction;
  requestedBy: string;
  placement?: unknown;
  /** Overrides queueTimeoutMs for this job. */
  queueTimeoutMs?: number;
}

export interface DeployService {
  /** Stores the job and sends it when the node is online. A known id returns the existing job, unchanged. */
  submit(s: DeploySubmission): { job: JobRecord; created: boolean };
  /** Sends the node's open jobs again: it (re)connected. */
  nodeOnline(nodeId: number): void;
  progress(nodeId: number, msg: DeployProgress): void;
  result(nodeId: number, msg: DeployResult): void;
  get(id: string): JobRecord | undefined;
  list(limit: number): JobRecord[];
  output(id: string, afterSeq?: number): JobOutputLine[];
  /** Checks deadlines now (the timer calls it; tests too). */
  sweep(): void;
  start(): void;
  close(): void;
}

/** Creates the service; `start()` begins the deadline sweep. */
export function createDeployService(deps: DeployServiceDeps, opts: DeployServiceOptions = {}): DeployService {
  const { jobs, link, now, log } = deps;
  const queueTimeoutMs = opts.queueTimeoutMs ?? 10 * 60_000;
  const runTimeoutMs = opts.runTimeoutMs ?? 15 * 60_000;
  let timer: NodeJS.Timeout | undefined;

  const say = (id: string, message: string) => jobs.appendOutput(id, { ts: now(), step: 'hub', message });

  const end = (job: JobRecord, state: JobState, message: string, containerId?: string) => {
    jobs.update(job.id, state, now(), { message, ...(containerId ? { containerId } : {}) });
    say(job.id, `${state}: ${message}`);
    log.info({ job: job.id, node: job.node, state, message }, 'deploy job ended');
    deps.onEnd?.(jobs.get(job.id) ?? { ...job, state, message });
  };

  const trySend = (job: JobRecord): boolean => {
    if (job.nodeId === null) return false;
    const sent = link.send(job.nodeId, { type: 'deploy', id: job.id, deadline: job.deadline, action: job.action });
    if (sent && job.state === 'queued') {
      jobs.update(job.id, 'sent', now());
      say(job.id, `sent to ${job.node}`);
    }
    return sent;
  };

  /** The job, if it is open and belongs to the node that reports on it. */
  const openJobOf = (nodeId: number, id: string): JobRecord | undefined => {
    const job = jobs.get(id);
    if (!job) {
      log.warn({ nodeId, job: id }, 'agent reported on a job the hub does not know');
      return undefined;
    }
    if (job.nodeId !== nodeId) {
      log.warn({ nodeId, job: id, target: job.node }, 'agent reported on a job sent to another node; ignored');
      return undefined;
    }
    return OPEN_STATES.includes(job.state) ? job : undefined;
  };

  return {
    submit(s) {
      const t = now();
      const id = s.id ?? deps.newId();
      const existing = jobs.get(id);
      if (existing) return { job: existing, created: false };
      const job: JobRecord = {
        id, nodeId: s.node.id, node: s.node.name, requestedBy: s.requestedBy, createdAt: t, updatedAt: t,
        deadline: t + (s.queueTimeoutMs ?? queueTimeoutMs), state: 'queued', action: s.action, placement: s.placement ?? null,
        message: null, containerId: null,
      };
      if (!jobs.insert(job)) return { job: jobs.get(id)!, created: false };
      say(id, `${describeAction(s.action)} on ${s.node.name}, asked by ${s.requestedBy}`);
      if (!trySend(job)) say(id, `queued: ${s.node.name} is offline; waiting for it until ${new Date(job.deadline).toISOString()}`);
      return { job: jobs.get(id)!, created: true };
    },
    nodeOnline(nodeId) {
      for (const job of jobs.open()) {
        if (job.nodeId !== nodeId) continue;
        if (job.state !== 'queued') say(job.id, `${job.node} reconnected; sending again (the agent runs a job once)`);
        trySend(job);
      }
    },
    progress(nodeId, msg) {
      const job = openJobOf(nodeId, msg.id);
      if (!job) return;
      if (job.state !== 'running') jobs.update(job.id, 'running', now());
      // What an agent says goes to the API, the CLI and the hub's log: a command or URL it quotes is redacted first.
      jobs.appendOutput(job.id, { ts: msg.ts, step: msg.step, message: redactCommandLine(msg.message) });
    },
    result(nodeId, msg) {
      const job = openJobOf(nodeId, msg.id);
      if (!job) return;
      const message = redactCommandLine(msg.message);
      if (msg.outcome === 'succeeded') end(job, 'succeeded', message, msg.containerId);
      else end(job, 'failed', msg.outcome === 'refused' ? `refused by ${job.node}: ${message}` : message, msg.containerId);
    },
    get: (id) => jobs.get(id),
    list: (limit) => jobs.list(limit),
    output: (id, after) => jobs.output(id, after),
    sweep() {
      const t = now();
      for (const job of jobs.open()) {
        if (job.state === 'queued' && t > job.deadline) {
          end(job, 'timed out', `${job.node} did not come online before the deadline (${new Date(job.deadline).toISOString()}); nothing was sent`);
        } else if (job.state !== 'queued' && t > job.deadline + runTimeoutMs) {
          end(job, 'timed out', `no result from ${job.node} within ${Math.round(runTimeoutMs / 60_000)} min of the deadline; check the node (muster events --node ${job.node})`);
        }
      }
    },
    start() {
      timer ??= setInterval(() => {
        try { this.sweep(); } catch (err) { log.error({ err }, 'deploy deadline sweep failed'); }
      }, opts.sweepEveryMs ?? 1000);
      timer.unref();
    },
    close() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
