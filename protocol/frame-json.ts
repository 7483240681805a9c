/**
 * What both decoders of frames share, with no schema: the result types, the
 * JSON parse, and the type a frame says it is. The hub's decoder (codec.ts,
 * TypeBox) and the agent's (hub-decoder.ts, validators compiled ahead of time)
 * check the parsed value each their own way.
 */

/** Why a frame was refused. */
export type DecodeFailure = { ok: false; code: 'MUSTER_ERR_FRAME_NOT_JSON' | 'MUSTER_ERR_FRAME_INVALID'; reason: string };
export type DecodeResult<T> = { ok: true; value: T } | DecodeFailure;

/** A function that turns raw frame text into a validated message or a failure with a reason. */
export type Decoder<T> = (raw: string) => DecodeResult<T>;

/** The frame's JSON value, or the refusal of a frame that is not JSON. */
export function parseFrameJson(raw: string): { ok: true; value: unknown } | DecodeFailure {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch (err) {
    return { ok: false, code: 'MUSTER_ERR_FRAME_NOT_JSON', reason: `frame is not JSON: ${(err as Error).message}` };
  }
}

/** The `type` a parsed frame gives itself, whatever it is; undefined when it has none. */
export function frameTypeOf(value: unknown): unknown {
  return typeof value === 'object' && value !== null && 'type' in value ? (value as { type: unknown }).type : undefined;
}
