/**
 * Persistence of deploy jobs and their output: who asked for what, where,
 * how far it got and what the agent said along the way. A job outlives the
 * hub process that queued it; the deploy service (hub/deploys.ts) owns the
 * state machine, this only stores it.
 */
import type Database from 'better-sqlite3';
import type { DeployAction, DeployStep } from '../protocol/index.ts';

/** queued -> sent -> running -> succeeded | failed | timed out. */
export type JobState = 'queued' | 'sent' | 'running' | 'succeeded' | 'failed' | 'timed out';

export const OPEN_STATES: readonly JobState[] = ['queued', 'sent', 'running'];

/** One deploy job as stored. */
export interface JobRecord {
  id: string;
  nodeId: number | null;
  /** The target node's name when the job was made (kept if the node is later removed). */
  node: string;
  /** Label of the token that asked for it. */
  requestedBy: string;
  createdAt: number;
  updatedAt: number;
  deadline: number;
  state: JobState;
  action: DeployAction;
  /** The placement answer that chose the node, for `--node auto`. */
  placement: unknown;
  /** The outcome in words, once the job ended. */
  message: string | null;
  containerId: string | null;
}

/** One line of a job's output. */
export interface JobOutputLine {
  seq: number;
  ts: number;
  step: DeployStep | 'hub';
  message: string;
}

export interface JobStore {
  /** Inserts a new job; returns false when a job with the id exists (nothing is changed then). */
  insert(job: JobRecord): boolean;
  get(id: string): JobRecord | undefined;
  /** Newest first. */
  list(limit: number): JobRecord[];
  /** Jobs not yet ended, oldest first. */
  open(): JobRecord[];
  /** Sets state (and, when given, message and container id). */
  update(id: string, state: JobState, now: number, end?: { message?: string; containerId?: string }): void;
  appendOutput(id: string, line: Omit<JobOutputLine, 'seq'>): JobOutputLine;
  /** Output lines after `afterSeq`, oldest first. */
  output(id: string, afterSeq?: number): JobOutputLine[];
}

/** Most output lines kept per job: a pull of a large image reports a lot, and the tail is what matters. */
export const MAX_OUTPUT_LINES = 500;

interface JobRow {
  id: string; node_id: number | null; node_name: string; requested_by: string; created_at: number; updated_at: number; deadline: number;
  state: JobState; action_json: string; placement_json: string | null; message: string | null; container_id: string | null;
}

const toJob = (r: JobRow): JobRecord => ({
  id: r.id, nodeId: r.node_id, node: r.node_name, requestedBy: r.requested_by, createdAt: r.created_at, updatedAt: r.updated_at,
  deadline: r.deadline, state: r.state, action: JSON.parse(r.action_json) as DeployAction,
  placement: r.placement_json === null ? null : JSON.parse(r.placement_json) as unknown, message: r.message, containerId: r.container_id,
});

/** Prepares the statements on a database opened by openDatabase (schema version 3 or later). */
export function createJobStore(db: Database.Database): JobStore {
  const q = {
    insert: db.prepare(`INSERT OR IGNORE INTO jobs (id, node_id, node_name, requested_by, created_at, updated_at, deadline, state, action_json, placement_json, message, container_id)
      VALUES (@id, @nodeId, @node, @requestedBy, @createdAt, @updatedAt, @deadline, @state, @action, @placement, @message, @containerId)`),
    get: db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?'),
    list: db.prepare<[number], JobRow>('SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?'),
    open: db.prepare<[], JobRow>("SELECT * FROM jobs WHERE state IN ('queued', 'sent', 'running') ORDER BY created_at, id"),
    update: db.prepare('UPDATE jobs SET state = ?, updated_at = ?, message = coalesce(?, message), container_id = coalesce(?, container_id) WHERE id = ?'),
    lastSeq: db.prepare<[string], { seq: number | null }>('SELECT max(seq) AS seq FROM job_output WHERE job_id = ?'),
    addLine: db.prepare('INSERT INTO job_output (job_id, seq, ts, step, message) VALUES (?, ?, ?, ?, ?)'),
    trim: db.prepare('DELETE FROM job_output WHERE job_id = ? AND seq <= ?'),
    output: db.prepare<[string, number], JobOutputLine>('SELECT seq, ts, step, message FROM job_output WHERE job_id = ? AND seq > ? ORDER BY seq'),
  };
  const append = db.transaction((id: string, line: Omit<JobOutputLine, 'seq'>): JobOutputLine => {
    const seq = (q.lastSeq.get(id)?.seq ?? 0) + 1;
    q.addLine.run(id, seq, Math.round(line.ts), line.step, line.message);
    if (seq > MAX_OUTPUT_LINES) q.trim.run(id, seq - MAX_OUTPUT_LINES);
    return { seq, ...line };
  });
  return {
    insert: (job) => q.insert.run({
      ...job, action: JSON.stringify(job.action), placement: job.placement === null || job.placement === undefined ? null : JSON.stringify(job.placement),
    }).changes === 1,
    get: (id) => { const r = q.get.get(id); return r ? toJob(r) : undefined; },
    list: (limit) => q.list.all(limit).map(toJob),
    open: () => q.open.all().map(toJob),
    update: (id, state, now, end) => { q.update.run(state, now, end?.message ?? null, end?.containerId ?? null, id); },
    appendOutput: (id, line) => append(id, line),
    output: (id, afterSeq = 0) => q.output.all(id, afterSeq),
  };
}
