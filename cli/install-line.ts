/**
 * The one line a person pastes on a new node to install the agent as a
 * service (`muster token create --role agent` and `muster up` print it).
 * Nothing in it trusts the hub before the pin does: the CA is fetched
 * unverified, checked against the pin with tools every Debian has (PEM is
 * base64 of the DER, so sed, base64 and sha256sum do what openssl would), and
 * only then is install.sh fetched over it. install.sh checks the pin again
 * itself, and the agent bundle's SHA-256.
 */

/** What goes into the line. */
export interface InstallLineOptions {
  /** The hub as the node reaches it, e.g. https://hub.lan:7070. */
  hub: string;
  /** A join token of role agent. */
  token: string;
  /** `sha256:HEX` of the hub's CA; absent for a hub without a CA of its own (--tls-cert, --no-tls). */
  caHash?: string | null | undefined;
  /** More flags for the agent, e.g. ['--name', 'pi-4']. */
  agentFlags?: readonly string[];
}

/** The file the line keeps the hub's CA in, in the current directory. */
export const INSTALL_LINE_CA_FILE = 'muster-ca.crt';

/** Quotes a word for sh when it needs it. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The one-line install command; POSIX sh, no line breaks. */
export function agentInstallLine(o: InstallLineOptions): string {
  const hub = o.hub.replace(/\/+$/, '');
  const args = ['--hub', hub, '--join', o.token, ...(o.caHash ? ['--ca-hash', o.caHash] : []), ...(o.agentFlags ?? [])].map(shellWord).join(' ');
  if (!o.caHash) return `curl -fsS ${shellWord(`${hub}/install.sh`)} | sh -s -- ${args}`;
  const hex = o.caHash.replace(/^sha256:/, '');
  const ca = INSTALL_LINE_CA_FILE;
  return `curl -fsSk ${shellWord(`${hub}/cacerts`)} -o ${ca}`
    + ` && { [ "$(sed '/-----/d' ${ca} | base64 -d | sha256sum | cut -c1-64)" = ${hex} ] || { echo "muster: the CA of this hub does not match the pin: not the hub the command was made for" >&2; false; }; }`
    + ` && curl -fsS --cacert ${ca} ${shellWord(`${hub}/install.sh`)} | sh -s -- ${args}`;
}
