/**
 * Reads everything that runs on the node in one pass: processes, the sockets
 * they listen on, Docker containers and systemd units. A source that is not
 * there (no Docker, systemd not PID 1) is reported with its reason and
 * contributes an empty list; the others carry on.
 */
import type { CollectorStates, ContainerInfo, ContainerUse, ListenPort, ProcessInfo, UnitInfo } from '../protocol/index.ts';
import type { WorkloadState } from './workload-diff.ts';

/** The narrow views of the collectors this module needs. */
export interface WorkloadSources {
  processes: { read(): Promise<ProcessInfo[]> };
  listeners: { read(processes: ProcessInfo[]): Promise<ListenPort[]> };
  containers: { read(): Promise<{ ok: true; containers: ContainerInfo[]; use: ContainerUse[] } | { ok: false; reason: string }> };
  units: { read(): Promise<{ ok: true; units: UnitInfo[] } | { ok: false; reason: string }> };
}

/** Collects one reading of all workloads. */
export interface WorkloadCollector {
  collect(): Promise<WorkloadState>;
}

const OK = 'ok';
const reasonOf = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 1024);

/** Creates the collector over the given sources. */
export function createWorkloadCollector(sources: WorkloadSources): WorkloadCollector {
  return {
    async collect() {
      const collectors: CollectorStates = {};
      let processes: ProcessInfo[] = [];
      let ports: ListenPort[] = [];
      try {
        processes = await sources.processes.read();
        collectors.processes = OK;
      } catch (err) {
        collectors.processes = reasonOf(err);
      }
      const [portsResult, containersResult, unitsResult] = await Promise.allSettled([
        sources.listeners.read(processes),
        sources.containers.read(),
        sources.units.read(),
      ]);
      if (portsResult.status === 'fulfilled') {
        ports = portsResult.value;
        collectors.ports = OK;
      } else {
        collectors.ports = reasonOf(portsResult.reason);
      }
      let containers: ContainerInfo[] = [];
      let use: ContainerUse[] = [];
      if (containersResult.status === 'rejected') collectors.containers = reasonOf(containersResult.reason);
      else if (!containersResult.value.ok) collectors.containers = containersResult.value.reason;
      else {
        ({ containers, use } = containersResult.value);
        collectors.containers = OK;
      }
      let units: UnitInfo[] = [];
      if (unitsResult.status === 'rejected') collectors.units = reasonOf(unitsResult.reason);
      else if (!unitsResult.value.ok) collectors.units = unitsResult.value.reason;
      else {
        units = unitsResult.value.units;
        collectors.units = OK;
      }
      return { lists: { processes, containers, units, ports }, use, collectors };
    },
  };
}
