/**
 * Decoding of frames at the boundary: parse JSON, check the schema, and say
 * precisely what was wrong. Validators are compiled once per decoder.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TSchema, Static } from '@sinclair/typebox';
import { AgentMessage } from './messages.ts';
import { frameTypeOf, parseFrameJson, type Decoder } from './frame-json.ts';

export type { DecodeFailure, DecodeResult, Decoder } from './frame-json.ts';

/** Builds a decoder for one schema; the validator is compiled here, not per frame. */
export function createDecoder<S extends TSchema>(schema: S): Decoder<Static<S>> {
  const check = TypeCompiler.Compile(schema);
  return (raw) => {
    const parsed = parseFrameJson(raw);
    if (!parsed.ok) return parsed;
    const value = parsed.value;
    if (check.Check(value)) return { ok: true, value };
    const first = check.Errors(value).First();
    const where = first?.path || '/';
    const t = frameTypeOf(value);
    const type = t === undefined ? '?' : String(t).slice(0, 32);
    return { ok: false, code: 'MUSTER_ERR_FRAME_INVALID', reason: `frame of type '${type}' fails the schema at ${where}: ${first?.message ?? 'invalid'}` };
  };
}

/** Decoder for frames an agent sends (used by the hub). */
export const createAgentMessageDecoder = () => createDecoder(AgentMessage);
