/**
 * The agent's decoder of the frames the hub sends: parse JSON, then the
 * validator of the frame's type, compiled from the HubMessage schema ahead of
 * time (protocol/hub-checks.ts). Its verdicts are the schema's; a node never
 * loads TypeBox for them.
 */
import { frameTypeOf, parseFrameJson, type Decoder } from './frame-json.ts';
import { HUB_MESSAGE_CHECKS } from './hub-checks.ts';
import type { HubMessage } from './messages.ts';

/** Decoder for frames the hub sends (used by the agent). */
export function createHubMessageDecoder(): Decoder<HubMessage> {
  return (raw) => {
    const parsed = parseFrameJson(raw);
    if (!parsed.ok) return parsed;
    const value = parsed.value;
    const type = frameTypeOf(value);
    const check = typeof type === 'string' && Object.hasOwn(HUB_MESSAGE_CHECKS, type) ? HUB_MESSAGE_CHECKS[type] : undefined;
    if (check?.(value)) return { ok: true, value: value as HubMessage };
    const shown = type === undefined ? '?' : String(type).slice(0, 32);
    return {
      ok: false, code: 'MUSTER_ERR_FRAME_INVALID',
      reason: check ? `frame of type '${shown}' fails the schema` : `frame of unknown type '${shown}'`,
    };
  };
}
