/**
 * kamailio as a peer (tests and benches): one place that writes its configuration. Every use
 * wants the same skeleton — workers, the registrar with usrloc in memory, a Max-Forwards check —
 * and differs in a few globals, modules and the body of its request route: a stateful proxy
 * for calls (`proxyRoute`), a registrar that may ask for digest (bench/registrar.ts).
 */

export interface KamailioConfig {
  /** What this kamailio is for, written at the top of the file. */
  purpose: string;
  debug?: number;
  tcpChildren?: number;
  /** More global settings, one per line (`tcp_max_connections=15000`). */
  globals?: string[];
  /** Modules beyond the skeleton's (tm, sl, pv, maxfwd, usrloc, registrar, textops, siputils). */
  modules?: string[];
  /** More modparam lines. */
  modparams?: string[];
  /** The request route's body, after the Max-Forwards check. */
  route: string;
}

export function kamailioConfig(c: KamailioConfig): string {
  const modules = ['tm', 'sl', 'pv', 'maxfwd', 'usrloc', 'registrar', 'textops', 'siputils', ...(c.modules ?? [])];
  return [
    '#!KAMAILIO',
    ...c.purpose.split('\n').map((l) => `# ${l}`),
    `debug=${c.debug ?? 1}`,
    'log_stderror=yes',
    'children=2',
    `tcp_children=${c.tcpChildren ?? 2}`,
    'auto_aliases=no',
    ...(c.globals ?? []),
    '',
    ...modules.map((m) => `loadmodule "${m}.so"`),
    '',
    'modparam("usrloc", "db_mode", 0)',
    'modparam("registrar", "max_expires", 3600)',
    ...(c.modparams ?? []),
    '',
    'request_route {',
    '  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }',
    ...c.route.trim().split('\n').map((l) => (l.trim() ? `  ${l}` : '')),
    '}',
    '',
  ].join('\n');
}

/**
 * A stateful proxy with usrloc (needs the `rr` module): in-dialog requests follow the route set,
 * REGISTERs are saved, INVITEs are record-routed and sent where `lookup("location")` says.
 * `beforeLookup` runs just before the lookup (a static route for one number); `onRegister`
 * just after a REGISTER is saved (a log line to wait for).
 */
export function proxyRoute(o: { beforeLookup?: string; onRegister?: string } = {}): string {
  return `
if (has_totag()) {
  if (loose_route()) { t_relay(); exit; }
  if (is_method("ACK")) { if (t_check_trans()) { t_relay(); } exit; }
  sl_send_reply("404", "Not here");
  exit;
}
if (is_method("CANCEL")) { if (t_check_trans()) { t_relay(); } exit; }
if (is_method("REGISTER")) {
  if (!save("location")) { sl_reply_error(); }
  ${o.onRegister ?? ''}
  exit;
}
if (is_method("OPTIONS")) { sl_send_reply("200", "OK"); exit; }
t_check_trans();
if (is_method("INVITE")) { record_route(); }
${o.beforeLookup ?? ''}
if (!lookup("location")) {
  sl_send_reply("404", "Not Found");
  exit;
}
if (!t_relay()) { sl_reply_error(); }
`;
}
