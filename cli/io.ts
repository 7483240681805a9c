/** What a CLI command may touch: its arguments, environment and output streams. */
export interface Io {
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
  /** Asks the person at the terminal and resolves with the answer; absent when stdin is not a terminal (scripts must pass --yes). */
  ask?: (question: string) => Promise<string>;
}
