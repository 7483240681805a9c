/** What a CLI command may touch: its arguments, environment and output streams. */
export interface Io {
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
}
