/**
 * Decoding of frames at the boundary: parse JSON, check the schema, and say
 * precisely what was wrong. Validators are compiled once per decoder.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { TSchema, Static } from '@sinclair/typebox';
import { AgentMessage } from './messages.ts';

/** Why a frame was refused. */
export type DecodeFailure = { ok: false; code: 'MUSTER_ERR_FRAME_NOT_JSON' | 'MUSTER_ERR_FRAME_INVALID'; reason: string };
export type DecodeResult<T> = { ok: true; value: T } | DecodeFailure;

/** A function that turns raw frame text into a validated message or a failure with a reason. */
export type Decoder<T> = (raw: string) => DecodeResult<T>;

/** Builds a decoder for one schema; the validator is compiled here, not per frame. */
export function createDecoder<S extends TSchema>(schema: S): Decoder<Static<S>> {
  const check = TypeCompiler.Compile(schema);
  return (raw) => {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      return { ok: false, code: 'MUSTER_ERR_FRAME_NOT_JSON', reason: `frame is not JSON: ${(err as Error).message}` };
    }
    if (check.Check(value)) return { ok: true, value };
    const first = check.Errors(value).First();
    const where = first?.path || '/';
    const type = typeof value === 'object' && value !== null && 'type' in value ? String((value as { type: unknown }).type).slice(0, 32) : '?';
    return { ok: false, code: 'MUSTER_ERR_FRAME_INVALID', reason: `frame of type '${type}' fails the schema at ${where}: ${first?.message ?? 'invalid'}` };
  };
}

/** Decoder for frames an agent sends (used by the hub). */
export const createAgentMessageDecoder = () => createDecoder(AgentMessage);
