/**
 * DNS messages at the byte level, for the paths where decoding into objects
 * would lose something or cost too much: matching an upstream's answer to
 * the exact question asked, and relaying that answer as it came (keeping its
 * name compression, which dns-packet's encoder does not do, so it is not
 * made bigger than the upstream made it). Every function checks bounds and
 * says `undefined` for a malformed message instead of throwing.
 */

/** Where one resource record sits in a message. */
export interface RecordRef {
  /** 0 answer, 1 authority, 2 additional. */
  section: 0 | 1 | 2;
  start: number;
  end: number;
  type: number;
  /** Offset of its 32-bit TTL. */
  ttlAt: number;
  /** Offset of its RDATA (RDATA ends at `end`). */
  rdataAt: number;
}

/** OPT, the EDNS pseudo-record. */
export const TYPE_OPT = 41;
export const TYPE_SOA = 6;
export const HEADER_BYTES = 12;

/** The offset just past a name starting at `offset`; names may end in a compression pointer (not followed here). */
export function skipName(msg: Buffer, offset: number): number | undefined {
  let length = 0;
  for (;;) {
    if (offset >= msg.length) return undefined;
    const len = msg[offset]!;
    if (len === 0) return offset + 1;
    if ((len & 0xc0) === 0xc0) return offset + 2 <= msg.length ? offset + 2 : undefined;
    if ((len & 0xc0) !== 0) return undefined;
    length += len + 1;
    if (length > 255) return undefined;
    offset += len + 1;
  }
}

/**
 * The offset just past the first question (its name and its type and class).
 * A question's name is the first name in a message, so it may not be
 * compressed: a pointer there is malformed.
 */
export function questionEnd(msg: Buffer): number | undefined {
  let offset = HEADER_BYTES;
  let length = 0;
  for (;;) {
    if (offset >= msg.length) return undefined;
    const len = msg[offset]!;
    if (len === 0) break;
    if ((len & 0xc0) !== 0) return undefined;
    length += len + 1;
    if (length > 255) return undefined;
    offset += len + 1;
  }
  const end = offset + 1 + 4;
  return end <= msg.length ? end : undefined;
}

/**
 * Whether `msg` carries at `HEADER_BYTES` the same question as `question`
 * (name, type, class): the name compared without regard to ASCII case, as DNS
 * does, the type and class byte for byte.
 */
export function sameQuestion(msg: Buffer, question: Buffer): boolean {
  if (msg.length < HEADER_BYTES + question.length) return false;
  const nameBytes = question.length - 4;
  for (let i = 0; i < question.length; i++) {
    let a = msg[HEADER_BYTES + i]!;
    let b = question[i]!;
    if (i < nameBytes) {
      // Length bytes are at most 63, below 'A': folding them changes nothing.
      if (a >= 65 && a <= 90) a += 32;
      if (b >= 65 && b <= 90) b += 32;
    }
    if (a !== b) return false;
  }
  return true;
}

/** The question with the name's ASCII letters in lower case, as a string key (type and class bytes kept as they are). */
export function questionKey(question: Buffer): string {
  const nameBytes = question.length - 4;
  let s = '';
  for (let i = 0; i < question.length; i++) {
    const b = question[i]!;
    s += String.fromCharCode(i < nameBytes && b >= 65 && b <= 90 ? b + 32 : b);
  }
  return s;
}

/**
 * Every record of a message whose sections start at `from`, with the counts
 * its header gives; undefined when a record runs past the end or a name is
 * malformed.
 */
export function walkRecords(msg: Buffer, from: number): { records: RecordRef[]; end: number } | undefined {
  const counts = [msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
  const records: RecordRef[] = [];
  let offset = from;
  for (let section = 0; section < 3; section++) {
    for (let n = 0; n < counts[section]!; n++) {
      const start = offset;
      const nameEnd = skipName(msg, offset);
      if (nameEnd === undefined || nameEnd + 10 > msg.length) return undefined;
      const rdataAt = nameEnd + 10;
      const end = rdataAt + msg.readUInt16BE(nameEnd + 8);
      if (end > msg.length) return undefined;
      records.push({ section: section as 0 | 1 | 2, start, end, type: msg.readUInt16BE(nameEnd), ttlAt: nameEnd + 4, rdataAt });
      offset = end;
    }
  }
  return { records, end: offset };
}

/** An OPT record advertising `udpPayload`, with the DO bit when asked (RFC 3225: a response copies it). */
export function optRecord(udpPayload: number, dnssecOk: boolean): Buffer {
  const b = Buffer.alloc(11);
  // b[0] = 0: the root name.
  b.writeUInt16BE(TYPE_OPT, 1);
  b.writeUInt16BE(udpPayload, 3);
  // TTL field: extended rcode 0, version 0, then the flags.
  b.writeUInt16BE(dnssecOk ? 0x8000 : 0, 7);
  // RDLENGTH 0: no options.
  return b;
}
