/** Plain-text tables and number formats for bench reports. */

/** Lays out rows under a header, columns padded; numbers-looking cells are right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.every((r) => /^[-+]?[\d.,]+\s*[a-zA-Z%/]*$|^-?$/.test(r[i] ?? '')));
  const line = (cells: readonly string[], isHeader: boolean) => cells
    .map((c, i) => (numeric[i] && !isHeader ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
    .join('  ')
    .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header, true), rule, ...rows.map((r) => line(r, false))].join('\n') + '\n';
}

/** Bytes as MiB with one decimal. */
export const mib = (bytes: number | undefined): string => (bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(1)} MiB`);

/** A number with a fixed count of decimals, or '-' when unknown. */
export const fixed = (n: number | undefined, digits: number, unit = ''): string =>
  (n === undefined || !Number.isFinite(n) ? '-' : `${n.toFixed(digits)}${unit}`);
