/** The identity rows of `tendril status` (text form): source, SVIDs held, tunnels. */
interface IdentityStatus {
  trustDomain?: string;
  source?: {
    workloadApi?: { address?: string; connected?: boolean; lastError?: string | null };
    delegatedIdentity?: { address?: string; connected?: boolean; lastError?: string | null };
  };
  svids?: { spiffeId: string; notAfter: string }[];
  tunnel?: {
    listen?: string;
    sessions?: { local: string; peer: string }[];
    clientSessions?: { local: string; peer: string; node: string; streams: number }[];
    handshakeFailures?: number;
  };
}

export function identityRows(components: Record<string, unknown> | undefined): Array<[string, string]> {
  const st = components?.['identity'] as IdentityStatus | undefined;
  if (!st) return [['Identity', 'Disabled']];
  const src = (name: string, s?: { address?: string; connected?: boolean; lastError?: string | null }): string =>
    `${name} ${s?.address ?? '?'} ${s?.connected ? 'connected' : `not connected${s?.lastError ? ` (${s.lastError})` : ''}`}`;
  const rows: Array<[string, string]> = [
    ['Identity', `trust domain ${st.trustDomain}`],
    ['  source', `${src('workload API', st.source?.workloadApi)}; ${src('delegated identity', st.source?.delegatedIdentity)}`],
  ];
  for (const s of st.svids ?? []) rows.push(['  SVID', `${s.spiffeId}  not after ${s.notAfter}`]);
  rows.push(['  tunnel', `listening on ${st.tunnel?.listen ?? '?'}, handshake failures ${st.tunnel?.handshakeFailures ?? 0}`]);
  for (const t of st.tunnel?.clientSessions ?? []) rows.push(['  tunnel out', `${t.node}  ${t.local} -> ${t.peer}  streams=${t.streams}`]);
  for (const t of st.tunnel?.sessions ?? []) rows.push(['  tunnel in', `${t.peer} -> ${t.local}`]);
  return rows;
}
