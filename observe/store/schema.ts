/**
 * SQLite schema of the retained flow store.
 *
 * Times are epoch MICROseconds (exact in SQLite's 64-bit integers and in JS numbers).
 * - `flows`: every stored flow, its JSON plus the columns queries filter on. Indexed by time
 *   (range scans for --since/--until, retention pruning).
 * - `pairs`: pre-aggregated (client, server, port, protocol, verdict) counts per hour bucket,
 *   maintained at insert time. The audit query (`--namespace X --since 7d --aggregate pairs`)
 *   reads whole hours from here (at most 24*retention rows per pair) and only the partial hours at
 *   the edges of the time range from `flows`, so its cost does not grow with the flow count.
 *   Replies (is_reply = true) are not counted in pairs: a pair is who initiated traffic to whom.
 */
export const SCHEMA_VERSION = 1;

export const DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flows (
  id INTEGER PRIMARY KEY,
  time_us INTEGER NOT NULL,
  src_ns TEXT NOT NULL,
  src TEXT NOT NULL,
  dst_ns TEXT NOT NULL,
  dst TEXT NOT NULL,
  dst_port INTEGER NOT NULL,
  protocol TEXT NOT NULL,
  verdict TEXT NOT NULL,
  is_reply INTEGER NOT NULL,
  flow TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS flows_time ON flows (time_us);
CREATE TABLE IF NOT EXISTS pairs (
  hour INTEGER NOT NULL,
  src_ns TEXT NOT NULL,
  src TEXT NOT NULL,
  dst_ns TEXT NOT NULL,
  dst TEXT NOT NULL,
  dst_port INTEGER NOT NULL,
  protocol TEXT NOT NULL,
  verdict TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_us INTEGER NOT NULL,
  last_us INTEGER NOT NULL,
  PRIMARY KEY (hour, src_ns, src, dst_ns, dst, dst_port, protocol, verdict)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pairs_dst_ns ON pairs (dst_ns, hour);
CREATE INDEX IF NOT EXISTS pairs_src_ns ON pairs (src_ns, hour);
`;
