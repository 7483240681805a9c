/**
 * Versioned schema of the hub's SQLite database. Migration N brings the schema
 * from user_version N-1 to N; entries are only ever appended.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE nodes (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    machine_id    TEXT NOT NULL,
    facts_json    TEXT,
    agent_version TEXT,
    first_seen    INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    online        INTEGER NOT NULL DEFAULT 0,
    acked_seq     INTEGER NOT NULL DEFAULT 0,
    dropped       INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'node')),
    hash         TEXT NOT NULL,
    node_id      INTEGER REFERENCES nodes(id) ON DELETE CASCADE,
    label        TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
  );
  CREATE INDEX tokens_node ON tokens(node_id);
  CREATE TABLE samples (
    node_id   INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    cpu_used  REAL,
    mem_used  REAL,
    data_json TEXT NOT NULL,
    PRIMARY KEY (node_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX samples_ts ON samples(node_id, ts);
  CREATE TABLE sample_hours (
    node_id  INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    hour     INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    cpu_avg  REAL, cpu_p95 REAL, cpu_max REAL,
    mem_avg  REAL, mem_p95 REAL, mem_max REAL,
    PRIMARY KEY (node_id, hour)
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE workloads (
    node_id    INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('processes', 'containers', 'units', 'ports')),
    key        TEXT NOT NULL,
    data_json  TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (node_id, kind, key)
  ) WITHOUT ROWID;
  CREATE TABLE workload_collectors (
    node_id   INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
    data_json TEXT NOT NULL
  );
  CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    ts          INTEGER NOT NULL,
    node_id     INTEGER REFERENCES nodes(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    service     TEXT,
    detail_json TEXT NOT NULL
  );
  CREATE INDEX events_ts ON events(ts);
  CREATE INDEX events_node_ts ON events(node_id, ts);
  `,
  `
  CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    node_id      INTEGER REFERENCES nodes(id) ON DELETE SET NULL,
    node_name    TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    deadline     INTEGER NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'running', 'succeeded', 'failed', 'timed out')),
    action_json  TEXT NOT NULL,
    placement_json TEXT,
    message      TEXT,
    container_id TEXT
  );
  CREATE INDEX jobs_created ON jobs(created_at);
  CREATE INDEX jobs_open ON jobs(state) WHERE state IN ('queued', 'sent', 'running');
  CREATE TABLE job_output (
    job_id  TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    step    TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE alerts (
    key                  TEXT PRIMARY KEY,
    rule                 TEXT NOT NULL,
    node                 TEXT,
    subject              TEXT NOT NULL,
    severity             TEXT NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    started_at           INTEGER NOT NULL,
    firing_at            INTEGER,
    resolved_at          INTEGER,
    value                REAL,
    threshold            REAL,
    summary              TEXT NOT NULL,
    notified_firing_at   INTEGER,
    notified_resolved_at INTEGER
  );
  CREATE INDEX alerts_state ON alerts(state);
  `,
  `
  CREATE TABLE silences (
    id         TEXT PRIMARY KEY,
    node       TEXT,
    rule       TEXT,
    subject    TEXT,
    comment    TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL
  );
  `,
  `
  -- What the hub writes for a node on every sample lives apart from the node's
  -- facts: a small row, so a group commit rewrites a shared page, not each
  -- node's kilobytes of facts (2,000 last-seen updates rewrote 2,000 pages).
  -- nodes.acked_seq and nodes.dropped are no longer used.
  CREATE TABLE node_progress (
    node_id   INTEGER PRIMARY KEY REFERENCES nodes(id) ON DELETE CASCADE,
    acked_seq INTEGER NOT NULL DEFAULT 0,
    lost_json TEXT NOT NULL DEFAULT '{}',
    rejected  INTEGER NOT NULL DEFAULT 0,
    last_seen INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO node_progress (node_id, acked_seq, lost_json)
    SELECT id, acked_seq, json_object('overflow', dropped) FROM nodes;
  -- Written and emptied by the storage probe while storage fails (hub/storage-probe.ts).
  CREATE TABLE storage_probe (id INTEGER PRIMARY KEY, filler BLOB NOT NULL);
  `,
  `
  -- Joins (issue 13): join tokens count their uses (max_uses NULL: unlimited)
  -- and may be bound to replacing one node by name (replace_node); a metrics
  -- role for Prometheus. SQLite cannot change a CHECK in place, so the table is
  -- rebuilt (no table references it). The CHECK lists every role of DESIGN.md's
  -- "Who may do what", so adding viewer and deployer needs no second rebuild.
  CREATE TABLE tokens_new (
    id           TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'node', 'metrics', 'viewer', 'deployer')),
    hash         TEXT NOT NULL,
    node_id      INTEGER REFERENCES nodes(id) ON DELETE CASCADE,
    label        TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    max_uses     INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    replace_node TEXT
  );
  INSERT INTO tokens_new (id, role, hash, node_id, label, created_at, expires_at, revoked_at, last_used_at)
    SELECT id, role, hash, node_id, label, created_at, expires_at, revoked_at, last_used_at FROM tokens;
  DROP TABLE tokens;
  ALTER TABLE tokens_new RENAME TO tokens;
  CREATE INDEX tokens_node ON tokens(node_id);
  -- An admin's consent (muster nodes replace) to hand the name to the next join, until this time (ms).
  ALTER TABLE nodes ADD COLUMN replace_until INTEGER;
  `,
  `
  -- A team on one hub (issue 18): a deployer token's scope, as JSON
  -- {"services": ["web-*"], "nodes": {"tier": ["web"]}}; NULL for every other role.
  ALTER TABLE tokens ADD COLUMN scope_json TEXT;
  -- Who did what: every write through the API and every refusal. Append-only
  -- but for pruning past the retention (90 days by default). Names, not
  -- token secrets: who is the token's name, token_id which token it was.
  CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    ts          INTEGER NOT NULL,
    who         TEXT NOT NULL,
    token_id    TEXT,
    role        TEXT,
    action      TEXT NOT NULL,
    target      TEXT,
    method      TEXT,
    path        TEXT,
    address     TEXT,
    outcome     TEXT NOT NULL,
    status      INTEGER,
    code        TEXT,
    detail_json TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX audit_ts ON audit(ts);
  CREATE INDEX audit_who_ts ON audit(who, ts);
  `,
  `
  -- Recent logs (issue 17): what 'muster logs' reads and the Loki pusher's
  -- spool. A stream is one source of one node at one level, with the Loki
  -- labels it is pushed under; AUTOINCREMENT so a removed node's stream ids
  -- (its lines outlive it until pruned) are never given to another.
  CREATE TABLE log_streams (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id      INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    key          TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    service      TEXT NOT NULL,
    service_key  TEXT NOT NULL,
    instance     TEXT NOT NULL,
    container_id TEXT,
    image        TEXT,
    unit         TEXT,
    level        TEXT,
    labels       TEXT NOT NULL
  );
  CREATE INDEX log_streams_service ON log_streams(service_key);
  CREATE INDEX log_streams_node ON log_streams(node_id);
  -- Lines in arrival order: id is the cursor of 'muster logs --follow' and of each Loki target.
  CREATE TABLE log_lines (
    id        INTEGER PRIMARY KEY,
    stream_id INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    ns        INTEGER NOT NULL,
    line      TEXT NOT NULL,
    pid       INTEGER,
    stderr    INTEGER
  );
  CREATE INDEX log_lines_stream_ts ON log_lines(stream_id, ts);
  -- One row per stored batch: a replayed batch is stored once, and the store's bound walks these.
  CREATE TABLE log_batches (
    node_id  INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    last_id  INTEGER NOT NULL,
    lines    INTEGER NOT NULL,
    bytes    INTEGER NOT NULL,
    received INTEGER NOT NULL,
    PRIMARY KEY (node_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX log_batches_last ON log_batches(last_id);
  -- How far each Loki target has pushed (the id of the last line it took or dropped).
  CREATE TABLE loki_cursors (
    target  TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
  );
  `,
];
