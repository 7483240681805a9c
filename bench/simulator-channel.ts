/** The bench's side of the IPC conversation with bench/ingest-simulator.ts (bench/ingest-messages.ts). */
import type { SimulatorCommand, SimulatorEvent } from './ingest-messages.ts';
import type { Managed } from './supervisor.ts';
import { seconds } from './timing.ts';

/**
 * Sends a command to the simulator and resolves with its answer of type
 * `answer`; rejects on a `fatal` event, on the simulator's exit, or after `timeoutMs`.
 */
export function channelTo(sim: Managed) {
  return <T extends SimulatorEvent['type']>(cmd: SimulatorCommand, answer: T, timeoutMs: number): Promise<Extract<SimulatorEvent, { type: T }>> =>
    new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        sim.child.off('message', onMessage);
        sim.child.off('exit', onExit);
        fn();
      };
      const onMessage = (ev: SimulatorEvent) => {
        if (ev.type === answer) done(() => resolve(ev as Extract<SimulatorEvent, { type: T }>));
        else if (ev.type === 'fatal') done(() => reject(new Error(`simulator: ${ev.message}`)));
      };
      const onExit = () => done(() => reject(new Error(`the simulator exited while waiting for '${answer}':\n${sim.output()}`)));
      const timer = setTimeout(() => done(() => reject(new Error(`no '${answer}' from the simulator within ${seconds(timeoutMs)}`))), timeoutMs);
      sim.child.on('message', onMessage);
      sim.child.once('exit', onExit);
      sim.child.send(cmd);
    });
}
