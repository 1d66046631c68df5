/**
 * Which of the agent's startup parameters reach the upstream. Any run-time parameter may ride
 * in a StartupMessage and is applied before the first statement, outside every rule; so the
 * ones that change who the session is or how statements are read are dropped:
 *   identity:  user, database (ours), role, session_authorization, replication
 *   parsing:   options (a command line that can set any of these), search_path (what a bare
 *              table name refers to), standard_conforming_strings / backslash_quote (where a
 *              string literal ends), client_encoding (forced to UTF8, what our parser reads)
 *   protocol:  _pq_.* (protocol extensions we do not speak upstream)
 *   dotted:    extension settings (e.g. pgaudit.log): the server's own auditing is not the
 *              agent's to switch off
 * GUC names are case-insensitive; the protocol names are not, so both are compared lowercased.
 */
const DROPPED = new Set([
  'user', 'database', 'replication', 'options', 'role', 'session_authorization', 'search_path',
  'standard_conforming_strings', 'backslash_quote', 'client_encoding', 'session_replication_role',
  'default_text_search_config', 'check_function_bodies',
]);

export interface UpstreamParameters {
  /** In order: user, database, the forwarded agent parameters, client_encoding=UTF8. */
  parameters: [string, string][];
  /** Agent parameters that were not forwarded (names only, for the log). */
  dropped: string[];
  /** `_pq_.` options the agent asked for: answered with NegotiateProtocolVersion. */
  protocolOptions: string[];
}

export function upstreamParameters(agent: ReadonlyMap<string, string>, user: string, database: string): UpstreamParameters {
  const parameters: [string, string][] = [['user', user], ['database', database]];
  const dropped: string[] = [];
  const protocolOptions: string[] = [];
  for (const [name, value] of agent) {
    const lower = name.toLowerCase();
    if (lower.startsWith('_pq_.')) {
      protocolOptions.push(name);
      continue;
    }
    if (DROPPED.has(lower) || lower.includes('.')) {
      if (lower !== 'user' && lower !== 'database') dropped.push(name);
      continue;
    }
    parameters.push([name, value]);
  }
  parameters.push(['client_encoding', 'UTF8']);
  return { parameters, dropped, protocolOptions };
}
