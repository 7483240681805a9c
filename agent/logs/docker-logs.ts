/**
 * Every running container's stdout and stderr through the Engine API: one
 * follow-mode logs request per container (GET /containers/{id}/logs?follow=1
 * &timestamps=1&since=...), the container list at start and after the daemon
 * comes back, and the event stream for containers that start later.
 *
 * Where a container is read from is the caller's (agent/logs/collector.ts
 * keeps the last shipped position per container): `since` is that position's
 * time, and Docker gives every line at or after it, so the lines at exactly
 * that time which were shipped already (`skip`) are left out again. A
 * container whose stream ends while it still runs (the daemon restarted) is
 * followed again from the last line read.
 */
import type { DockerClient, EventSubscription } from '../docker-client.ts';
import { createDockerLogParser, dockerSince, type DockerLogLine } from './docker-log-stream.ts';

/** A followed container, as its lines are labelled. */
export interface ContainerLogInfo {
  id: string;
  name: string;
  image: string;
  tty: boolean;
  /** The `muster.service` label. */
  service?: string;
  project?: string;
  compose?: string;
}

/** Where in a container's log a reader stands: the time of the last line read, and how many lines had exactly that time. */
export interface DockerPosition {
  ms: number;
  ns: number;
  n: number;
}

export interface DockerLogsDeps {
  docker: DockerClient;
  /** Where to start reading a container that is not being read yet. */
  startOf: (id: string) => DockerPosition;
  onLine: (c: ContainerLogInfo, line: DockerLogLine, pos: DockerPosition) => void;
  /** A container was removed: its position can go. */
  onGone: (id: string) => void;
  /** Containers whose logs are not wanted (`--logs-exclude`): not even requested. */
  excluded?: (c: ContainerLogInfo) => boolean;
  /** Docker cannot be asked (no daemon, no permission); told once per failure streak. */
  onProblem: (reason: string) => void;
  maxLine: number;
}

/** The Docker log source. */
export interface DockerLogs {
  /** Containers being followed now. */
  following(): string[];
  close(): void;
}

interface Inspect {
  Id: string;
  Name?: string;
  Config?: { Image?: string; Tty?: boolean; Labels?: Record<string, string> | null };
  State?: { Running?: boolean };
}

/** Starts following; resolves nothing, runs until close(). */
export function startDockerLogs(deps: DockerLogsDeps): DockerLogs {
  const { docker } = deps;
  const followed = new Map<string, { sub: EventSubscription; pos: DockerPosition | undefined }>();
  /** Where each container was last read to, also after its stream ended (a restart continues from there). */
  const readTo = new Map<string, DockerPosition>();
  let events: EventSubscription | undefined;
  let retry: NodeJS.Timeout | undefined;
  let retryMs = 1_000;
  let closed = false;
  let problem = false;

  const report = (reason: string) => {
    if (!problem) deps.onProblem(reason);
    problem = true;
  };

  async function follow(id: string): Promise<void> {
    if (closed || followed.has(id)) return;
    // Claimed before the inspect, so a start event and the list cannot both open a stream.
    followed.set(id, { sub: { close() {} }, pos: undefined });
    let ins: Inspect;
    try {
      ins = await docker.get<Inspect>(`/containers/${encodeURIComponent(id)}/json`);
    } catch {
      followed.delete(id);
      return; // removed meanwhile
    }
    const labels = ins.Config?.Labels ?? {};
    const info: ContainerLogInfo = {
      id: ins.Id, name: (ins.Name ?? '').replace(/^\//, '') || ins.Id.slice(0, 12), image: ins.Config?.Image ?? '', tty: ins.Config?.Tty === true,
      ...(labels['muster.service'] ? { service: labels['muster.service'] } : {}),
      ...(labels['com.docker.compose.project'] ? { project: labels['com.docker.compose.project'] } : {}),
      ...(labels['com.docker.compose.service'] ? { compose: labels['com.docker.compose.service'] } : {}),
    };
    if (closed || deps.excluded?.(info)) {
      // Still claimed: an excluded container is not asked for again until it is gone.
      return;
    }
    const start = readTo.get(id) ?? deps.startOf(id);
    let skip = start.n;
    let pos: DockerPosition = { ...start };
    const parser = createDockerLogParser(info.tty, deps.maxLine, (line) => {
      const cmp = line.ms - start.ms || line.ns - start.ns;
      if (cmp < 0) return; // before the position: Docker's since is inclusive, never earlier, but a clock step is possible
      if (cmp === 0 && skip > 0) {
        skip--;
        return;
      }
      pos = line.ms === pos.ms && line.ns === pos.ns ? { ms: pos.ms, ns: pos.ns, n: pos.n + 1 } : { ms: line.ms, ns: line.ns, n: 1 };
      readTo.set(id, pos);
      deps.onLine(info, line, pos);
    });
    const query = `follow=1&stdout=1&stderr=1&timestamps=1&since=${dockerSince(start.ms, start.ns)}`;
    const sub = docker.follow(`/containers/${encodeURIComponent(id)}/logs?${query}`, (chunk) => parser.push(chunk), (err) => {
      parser.end();
      if (followed.get(id)?.sub === sub) followed.delete(id);
      if (closed) return;
      // The stream ends when the container stops; if it still runs, the daemon cut it: read on from where it ended.
      setTimeout(() => {
        if (closed || followed.has(id)) return;
        docker.get<Inspect>(`/containers/${encodeURIComponent(id)}/json`).then((again) => {
          if (again.State?.Running) void follow(id);
        }, () => undefined);
      }, err ? 1_000 : 200).unref();
    });
    followed.set(id, { sub, pos });
  }

  async function sync(): Promise<void> {
    let list: { Id: string }[];
    try {
      list = await docker.get<{ Id: string }[]>('/containers/json');
    } catch (err) {
      report(`cannot list containers: ${(err as Error).message}`);
      again();
      return;
    }
    problem = false;
    retryMs = 1_000;
    for (const c of list) void follow(c.Id);
    subscribe();
  }

  function subscribe(): void {
    if (closed || events) return;
    events = docker.events({ type: ['container'], event: ['start', 'destroy'] }, (e) => {
      const id = e.Actor?.ID;
      if (!id) return;
      if (e.Action === 'start') void follow(id);
      else if (e.Action === 'destroy') {
        followed.get(id)?.sub.close();
        followed.delete(id);
        readTo.delete(id);
        deps.onGone(id);
      }
    }, () => {
      events = undefined;
      if (!closed) again();
    });
  }

  function again(): void {
    if (closed || retry) return;
    retry = setTimeout(() => { retry = undefined; void sync(); }, retryMs);
    retry.unref();
    retryMs = Math.min(30_000, retryMs * 2);
  }

  void sync();
  return {
    following: () => [...followed.keys()],
    close() {
      closed = true;
      clearTimeout(retry);
      events?.close();
      for (const f of followed.values()) f.sub.close();
      followed.clear();
    },
  };
}
