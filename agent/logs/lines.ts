/**
 * Splits a byte stream into lines, for a child's stdout. It replaces
 * node:readline, which brings seven modules into the agent (its interface,
 * key handling, a REPL's history: ~0.5 MiB on Node 24) for this one job.
 * Bytes are split at '\n' before they are decoded: a UTF-8 sequence never
 * holds that byte, so no character is broken across chunks.
 */

/** Feeds chunks in, gets whole lines out. */
export interface LineSplitter {
  push(chunk: Buffer): void;
  /** The stream ended: a last line without its newline still counts. */
  end(): void;
}

/**
 * A splitter that calls `onLine` with each line, without its '\n' (nor a
 * '\r' before it). A line longer than `maxBytes` is dropped whole, with the
 * call `onDropped(bytes)`, rather than held in memory without bound.
 */
export function createLineSplitter(onLine: (line: string) => void, opts: { maxBytes: number; onDropped?: (bytes: number) => void }): LineSplitter {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Bytes of an overlong line being skipped until its end. */
  let skipping = 0;

  const emit = (parts: Buffer[]) => {
    const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const end = buf.length > 0 && buf[buf.length - 1] === 13 ? buf.length - 1 : buf.length;
    onLine(buf.toString('utf8', 0, end));
  };

  return {
    push(chunk) {
      let from = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, from)) {
        if (skipping > 0) {
          opts.onDropped?.(skipping + nl - from);
          skipping = 0;
        } else if (pendingBytes + nl - from > opts.maxBytes) {
          opts.onDropped?.(pendingBytes + nl - from);
        } else {
          pending.push(chunk.subarray(from, nl));
          emit(pending);
        }
        pending = [];
        pendingBytes = 0;
        from = nl + 1;
      }
      if (from === chunk.length) return;
      const rest = chunk.subarray(from);
      if (skipping > 0 || pendingBytes + rest.length > opts.maxBytes) {
        skipping += pendingBytes + rest.length;
        pending = [];
        pendingBytes = 0;
        return;
      }
      // A copy: the stream may reuse its chunk's memory.
      pending.push(Buffer.from(rest));
      pendingBytes += rest.length;
    },
    end() {
      if (skipping > 0) opts.onDropped?.(skipping);
      else if (pendingBytes > 0) emit(pending);
      pending = [];
      pendingBytes = 0;
      skipping = 0;
    },
  };
}
