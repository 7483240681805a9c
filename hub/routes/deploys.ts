/**
 * API routes for placement and deploys: POST /placements ranks every node
 * for a request; POST /deploys makes a job for a node (or `auto`, the top of
 * the ranking) and GET /deploys[/:id] shows jobs and their output. Registered
 * inside the authenticated /api/v1 scope by buildServer.
 */
import type { FastifyInstance } from 'fastify';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { DeployAction, JOB_ID_PATTERN, describeAction, redactDeployAction, type ContainerSpec } from '../../protocol/index.ts';
import type { Store } from '../store.ts';
import type { Inventory } from '../inventory.ts';
import { checkDeployScope, nodeInScope, type Principal } from '../access.ts';
import { deployAuditAction } from '../audit.ts';
import type { DeployService } from '../deploys.ts';
import type { JobOutputLine, JobRecord } from '../job-store.ts';
import { badRequest, forbidden, jobNotFound, noPlacement, nodeNotFound } from '../errors.ts';
import { nodeCapacities, type CapacityDeps } from '../capacity.ts';
import { parseBytes, parseCpu, parsePlatform, rankPlacements, type PlacementAnswer, type PlacementRequest } from '../placement.ts';
import { SERVICE_LABEL, containerServiceName, unitServiceName } from '../services.ts';
import { parseDuration } from '../durations.ts';

export interface DeployRoutesDeps {
  store: Pick<Store, 'getNodeByName'>;
  /** The containers a node runs: a deployer may touch an existing container only if it belongs to one of its services. */
  inventory: Pick<Inventory, 'get'>;
  deploys: Pick<DeployService, 'submit' | 'get' | 'list' | 'output'>;
  capacity: CapacityDeps;
}

const checkAction = TypeCompiler.Compile(DeployAction);
const JOB_ID = new RegExp(JOB_ID_PATTERN);

/**
 * A job as the API shows it. Env values are write-only: the stored action
 * keeps them for the agent, every view shows `<redacted>`.
 */
export function jobView(job: JobRecord, output?: JobOutputLine[]) {
  return {
    id: job.id, node: job.node, state: job.state, requestedBy: job.requestedBy,
    createdAt: new Date(job.createdAt).toISOString(), updatedAt: new Date(job.updatedAt).toISOString(),
    deadline: new Date(job.deadline).toISOString(), action: redactDeployAction(job.action), message: job.message, containerId: job.containerId,
    ...(job.placement ? { placement: job.placement } : {}),
    ...(output ? { output: output.map((l) => ({ seq: l.seq, ts: new Date(l.ts).toISOString(), step: l.step, message: l.message })) } : {}),
  };
}

type Raw = Record<string, unknown>;

/**
 * Reads a placement request from JSON, where sizes may be numbers (bytes,
 * cores) or text as the CLI takes them ('256M', '500m'). Every problem is
 * reported at once.
 */
export function parsePlacementRequest(raw: unknown, defaults: Partial<PlacementRequest> = {}): PlacementRequest {
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badRequest('the placement request must be a JSON object');
  const b = raw as Raw;
  const problems: string[] = [];
  const known = new Set(['cpu', 'memory', 'disk', 'platform', 'constraints', 'ports', 'strategy', 'spreadBy', 'service', 'image']);
  for (const k of Object.keys(b)) if (!known.has(k)) problems.push(`unknown field '${k}' (known: ${[...known].join(', ')})`);
  const size = (k: 'memory' | 'disk', fallback: number) => {
    const v = b[k];
    if (v === undefined) return fallback;
    const n = typeof v === 'number' ? (Number.isFinite(v) && v >= 0 ? v : undefined) : typeof v === 'string' ? parseBytes(v) : undefined;
    if (n === undefined) problems.push(`${k} must be bytes or a size like 256M or 1G, not ${JSON.stringify(v)}`);
    return n ?? 0;
  };
  let cpu = defaults.cpu ?? 0;
  if (b.cpu !== undefined) {
    const n = typeof b.cpu === 'number' ? (Number.isFinite(b.cpu) && b.cpu > 0 ? b.cpu : undefined) : typeof b.cpu === 'string' ? parseCpu(b.cpu) : undefined;
    if (n === undefined) problems.push(`cpu must be cores like 0.5 or 500m, not ${JSON.stringify(b.cpu)}`);
    cpu = n ?? 0;
  }
  const memoryBytes = size('memory', defaults.memoryBytes ?? 0);
  const diskBytes = size('disk', defaults.diskBytes ?? 0);
  let platform = defaults.platform;
  if (b.platform !== undefined) {
    platform = typeof b.platform === 'string' ? parsePlatform(b.platform) : undefined;
    if (!platform) problems.push(`platform must look like linux/amd64, linux/arm64 or linux/arm/v7, not ${JSON.stringify(b.platform)}`);
  }
  const constraints: Record<string, string> = { ...defaults.constraints };
  if (b.constraints !== undefined) {
    if (typeof b.constraints !== 'object' || b.constraints === null || Array.isArray(b.constraints)) problems.push('constraints must be an object of label: value');
    else for (const [k, v] of Object.entries(b.constraints)) {
      if (typeof v !== 'string' || !k || k.length > 63) problems.push(`constraint ${JSON.stringify(k)} must be a label name (at most 63 characters) with a string value`);
      else constraints[k] = v;
    }
  }
  const ports: PlacementRequest['ports'] = [...(defaults.ports ?? [])];
  if (b.ports !== undefined) {
    if (!Array.isArray(b.ports) || b.ports.length > 64) problems.push('ports must be a list of at most 64 ports');
    else for (const p of b.ports) {
      const m = typeof p === 'number' ? [String(p), String(p), 'tcp'] : typeof p === 'string' ? /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(p) : null;
      const port = m ? Number(m[1]) : NaN;
      if (!m || port < 1 || port > 65535) problems.push(`port ${JSON.stringify(p)} must be a number from 1 to 65535, optionally with /tcp or /udp`);
      else ports.push({ port, protocol: (m[2] as 'tcp' | 'udp' | undefined) ?? 'tcp' });
    }
  }
  const strategy = b.strategy ?? defaults.strategy ?? 'binpack';
  if (strategy !== 'binpack' && strategy !== 'spread') problems.push(`strategy must be binpack or spread, not ${JSON.stringify(strategy)}`);
  const str = (k: 'spreadBy' | 'service' | 'image') => {
    const v = b[k] ?? defaults[k];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > 512)) problems.push(`${k} must be a non-empty string`);
    return typeof v === 'string' && v ? v : undefined;
  };
  const spreadBy = str('spreadBy');
  const service = str('service');
  const image = str('image');
  if (problems.length) throw badRequest(`invalid placement request: ${problems.join('; ')}`, undefined, { problems });
  return {
    cpu, memoryBytes, diskBytes, constraints, ports, strategy: strategy as PlacementRequest['strategy'],
    ...(platform ? { platform } : {}), ...(spreadBy ? { spreadBy } : {}), ...(service ? { service } : {}), ...(image ? { image } : {}),
  };
}

/** What a container deploy asks of a node, when the caller gave no placement request of its own. */
export function placementDefaults(spec: ContainerSpec): Partial<PlacementRequest> {
  return {
    cpu: spec.cpus ?? 0,
    memoryBytes: spec.memoryBytes ?? 0,
    ports: spec.ports.flatMap((p) => (p.hostPort ? [{ port: p.hostPort, protocol: p.protocol }] : [])),
    ...(spec.platform ? { platform: parsePlatform(spec.platform) ?? spec.platform } : {}),
    image: spec.image,
    service: spec.labels[SERVICE_LABEL] ?? spec.name,
  };
}

/** The service a container made from this spec will belong to, named as the hub names running containers. */
export function specServiceName(spec: ContainerSpec): string {
  const compose = spec.labels['com.docker.compose.service'];
  return containerServiceName({ labels: spec.labels, name: spec.name, ...(compose ? { composeService: compose } : {}) });
}

/** Registers the placement and deploy routes. */
export function registerDeployRoutes(api: FastifyInstance, deps: DeployRoutesDeps): void {
  // A deployer's placements and `--node auto` pick among the nodes of its scope only.
  const rank = (req: PlacementRequest, force: boolean, who: Principal | null): PlacementAnswer =>
    rankPlacements(req, nodeCapacities(deps.capacity, req.service).filter((n) => nodeInScope(who, n.labels)), { force });

  /**
   * The services an action touches on a node: a new container's, and the one
   * it would replace; an existing container's; a unit's. Undefined when it
   * names a container the hub does not know there.
   */
  const servicesTouched = (action: DeployAction, nodeId: number): string[] | undefined => {
    const named = (name: string) => [...(deps.inventory.get(nodeId)?.containers.values() ?? [])].find((c) => c.name === name);
    switch (action.kind) {
      case 'run':
      case 'replace': {
        const old = named(action.container.name);
        return [...new Set([specServiceName(action.container), ...(old ? [containerServiceName(old)] : [])])];
      }
      case 'container': {
        const c = named(action.name);
        return c ? [containerServiceName(c)] : undefined;
      }
      case 'unit': return [unitServiceName(action.unit)];
    }
  };

  api.post<{ Body: unknown }>('/placements', async (req) => {
    const body = (req.body ?? {}) as Raw;
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('body must be a JSON object');
    const { force, ...rest } = body;
    if (force !== undefined && typeof force !== 'boolean') throw badRequest('force must be true or false');
    return rank(parsePlacementRequest(rest), force === true, req.principal);
  });

  api.post<{ Body: unknown }>('/deploys', async (req, reply) => {
    const body = req.body as Raw | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('body must be a JSON object: { node, action, id?, placement?, force?, queueTimeout? }');
    const problems: string[] = [];
    for (const k of Object.keys(body)) if (!['id', 'node', 'action', 'placement', 'force', 'queueTimeout'].includes(k)) problems.push(`unknown field '${k}'`);
    if (body.id !== undefined && (typeof body.id !== 'string' || !JOB_ID.test(body.id))) problems.push('id must be 1-64 letters, digits, dots, dashes or underscores');
    if (typeof body.node !== 'string' || !body.node) problems.push("node must be a node name or 'auto'");
    if (body.force !== undefined && typeof body.force !== 'boolean') problems.push('force must be true or false');
    let queueTimeoutMs: number | undefined;
    if (body.queueTimeout !== undefined) {
      queueTimeoutMs = typeof body.queueTimeout === 'string' ? parseDuration(body.queueTimeout) : undefined;
      if (!queueTimeoutMs) problems.push(`queueTimeout must look like 30s, 10m or 1h, not ${JSON.stringify(body.queueTimeout)}`);
    }
    if (!checkAction.Check(body.action)) {
      const first = [...checkAction.Errors(body.action)].slice(0, 5).map((e) => `action${e.path.replaceAll('/', '.')}: ${e.message}`);
      problems.push(...(first.length ? first : ['action is missing']));
    }
    if (problems.length) throw badRequest(`invalid deploy: ${problems.join('; ')}`, undefined, { problems });
    const action = body.action as DeployAction;
    const requestedBy = req.caller ?? 'unknown';
    let nodeName = body.node as string;
    const declared = action.kind === 'unit' ? unitServiceName(action.unit) : action.kind === 'container' ? undefined : specServiceName(action.container);
    const note = (node: string) => {
      req.auditNote = { action: deployAuditAction(action), target: `${describeAction(action)} on ${node}`, detail: { node, ...(declared ? { service: declared } : {}) } };
    };
    note(nodeName);
    // Before placement: a deployer asking for a service outside its scope hears so, not that no node fits.
    if (declared !== undefined) checkDeployScope(req.principal, { service: declared });
    let placement: { request: PlacementRequest; answer: PlacementAnswer } | undefined;
    if (nodeName === 'auto') {
      if (action.kind !== 'run' && action.kind !== 'replace') throw badRequest(`node auto places new containers; to ${action.kind === 'unit' ? `${action.action} a unit` : `${action.action} a container`} name the node`);
      const request = parsePlacementRequest(body.placement, placementDefaults(action.container));
      const answer = rank(request, body.force === true, req.principal);
      if (!answer.best) {
        throw noPlacement(`no node can take ${action.container.name}: ${answer.closest ? `closest is ${answer.closest}` : 'no nodes known'}; see the reasons, or over-commit with force`, undefined, { placement: answer });
      }
      nodeName = answer.best;
      placement = { request, answer };
    } else if (body.placement !== undefined) {
      throw badRequest("placement applies to node 'auto' only");
    }
    const node = deps.store.getNodeByName(nodeName);
    if (!node) throw nodeNotFound(`no node named '${nodeName}'`);
    note(node.name);
    const touched = servicesTouched(action, node.id);
    if (touched === undefined && req.principal?.role !== 'admin') {
      const name = action.kind === 'container' ? action.name : '';
      throw forbidden(`the hub knows no container '${name}' on ${node.name} (yet): a deployer may act only on containers it knows to be of the deployer's services`,
        undefined, { permission: 'deploy', role: req.principal?.role ?? null, node: node.name, container: name });
    }
    for (const service of touched ?? []) checkDeployScope(req.principal, { service, node: { name: node.name, labels: node.facts?.labels ?? {} } });
    const { job, created } = deps.deploys.submit({
      ...(typeof body.id === 'string' ? { id: body.id } : {}), node, action, requestedBy,
      ...(placement ? { placement } : {}), ...(queueTimeoutMs ? { queueTimeoutMs } : {}),
    });
    req.auditNote = { ...req.auditNote, detail: { ...req.auditNote?.detail, job: job.id, created, ...(touched ? { services: touched } : {}) } };
    reply.code(created ? 201 : 200);
    return { created, job: jobView(job, deps.deploys.output(job.id)), ...(placement?.answer.warnings.length ? { warnings: placement.answer.warnings } : {}) };
  });

  api.get<{ Querystring: { limit?: string } }>('/deploys', async (req) => {
    const limit = req.query.limit === undefined ? 50 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit must be an integer from 1 to 1000');
    return { jobs: deps.deploys.list(limit).map((j) => jobView(j)) };
  });

  api.get<{ Params: { id: string }; Querystring: { after?: string } }>('/deploys/:id', async (req) => {
    const job = deps.deploys.get(req.params.id);
    if (!job) throw jobNotFound(`no deploy job with id '${req.params.id}'; list them with muster jobs`);
    const after = req.query.after === undefined ? 0 : Number(req.query.after);
    if (!Number.isInteger(after) || after < 0) throw badRequest('after must be a non-negative integer (an output line number)');
    return jobView(job, deps.deploys.output(job.id, after));
  });
}
