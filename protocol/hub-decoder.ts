/**
 * The agent's decoder of the frames the hub sends: parse JSON, then the
 * validator of the frame's type, compiled from the HubMessage schema ahead of
 * time (protocol/hub-checks.ts). Its verdicts are the schema's; a node never
 * loads TypeBox for them.
 */
import type { Decoder } from './codec.ts';
import { HUB_MESSAGE_CHECKS } from './hub-checks.ts';
import type { HubMessage } from './messages.ts';

/** Decoder for frames the hub sends (used by the agent). */
export function createHubMessageDecoder(): Decoder<HubMessage> {
  return (raw) => {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      return { ok: false, code: 'MUSTER_ERR_FRAME_NOT_JSON', reason: `frame is not JSON: ${(err as Error).message}` };
    }
    const type = typeof value === 'object' && value !== null && 'type' in value ? (value as { type: unknown }).type : undefined;
    const check = typeof type === 'string' && Object.hasOwn(HUB_MESSAGE_CHECKS, type) ? HUB_MESSAGE_CHECKS[type] : undefined;
    if (check?.(value)) return { ok: true, value: value as HubMessage };
    const shown = type === undefined ? '?' : String(type).slice(0, 32);
    return {
      ok: false, code: 'MUSTER_ERR_FRAME_INVALID',
      reason: check ? `frame of type '${shown}' fails the schema` : `frame of unknown type '${shown}'`,
    };
  };
}
