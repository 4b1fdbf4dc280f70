package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/scimgate/scimgate/store"
)

// migrations are the schema versions in order: migration i brings the
// schema from version i to i+1. Append only; never edit a released one.
//
// Text keys are COLLATE "C" so that ordered scans compare bytes, as bbolt's
// keys do: both backends yield the same order. Empty externalIds are stored
// as ” and left out of their indexes.
var migrations = []string{
	// 1: the whole store.
	`
CREATE TABLE users (
	id                text COLLATE "C" PRIMARY KEY,
	login             text NOT NULL,
	login_fold        text COLLATE "C" NOT NULL UNIQUE,
	skeleton          text COLLATE "C" NOT NULL,
	name              text NOT NULL,
	name_fold         text COLLATE "C" NOT NULL,
	email             text NOT NULL,
	active            boolean NOT NULL,
	local             boolean NOT NULL,
	managed           boolean NOT NULL,
	external_id       text COLLATE "C" NOT NULL,
	external_login    text NOT NULL,
	external_provider text NOT NULL,
	scm_accounts      text[] NOT NULL,
	password_hash     text NOT NULL,
	scim              json,
	created           timestamptz NOT NULL,
	updated           timestamptz NOT NULL,
	last_connection   timestamptz,
	version           bigint NOT NULL,
	locale            text NOT NULL,
	password_changed  timestamptz NOT NULL,
	password_expiration_days integer,
	session_timeout   bigint NOT NULL,
	trusted_hosts     text[] NOT NULL,
	lockout_threshold integer
);
CREATE INDEX users_skeleton ON users (skeleton, id);
CREATE INDEX users_name ON users (name_fold, id);
CREATE INDEX users_ext ON users (external_id, id) WHERE external_id <> '';
CREATE INDEX users_active ON users (id) WHERE active;
CREATE INDEX users_managed ON users (id) WHERE managed;

CREATE TABLE groups (
	id           text COLLATE "C" PRIMARY KEY,
	name         text NOT NULL,
	name_fold    text COLLATE "C" NOT NULL UNIQUE,
	description  text NOT NULL,
	external_id  text COLLATE "C" NOT NULL,
	managed      boolean NOT NULL,
	organization text NOT NULL,
	created      timestamptz NOT NULL,
	updated      timestamptz NOT NULL,
	version      bigint NOT NULL
);
CREATE INDEX groups_ext ON groups (external_id, id) WHERE external_id <> '';

CREATE TABLE members (
	group_id text COLLATE "C" NOT NULL,
	user_id  text COLLATE "C" NOT NULL,
	PRIMARY KEY (group_id, user_id)
);
CREATE INDEX member_of ON members (user_id, group_id);

CREATE TABLE perms (
	subject text COLLATE "C" NOT NULL,
	perm    text COLLATE "C" NOT NULL,
	PRIMARY KEY (subject, perm)
);
CREATE INDEX holders ON perms (perm, subject);

CREATE TABLE tokens (
	hash            text COLLATE "C" PRIMARY KEY,
	user_id         text COLLATE "C" NOT NULL,
	name            text COLLATE "C" NOT NULL,
	type            text NOT NULL,
	created         timestamptz NOT NULL,
	expires         timestamptz,
	last_connection timestamptz,
	project         text NOT NULL,
	UNIQUE (user_id, name)
);

CREATE TABLE projects (
	id           text COLLATE "C" PRIMARY KEY,
	key          text NOT NULL,
	key_fold     text COLLATE "C" NOT NULL UNIQUE,
	name         text NOT NULL,
	private      boolean NOT NULL,
	organization text NOT NULL,
	template     text NOT NULL,
	creator      text NOT NULL,
	tags         text[] NOT NULL,
	badge_token  text NOT NULL,
	created      timestamptz NOT NULL,
	updated      timestamptz NOT NULL
);

CREATE TABLE templates (
	id           text COLLATE "C" PRIMARY KEY,
	name         text NOT NULL,
	name_fold    text COLLATE "C" NOT NULL UNIQUE,
	description  text NOT NULL,
	key_pattern  text NOT NULL,
	organization text NOT NULL,
	is_default   boolean NOT NULL,
	created      timestamptz NOT NULL,
	updated      timestamptz NOT NULL
);

CREATE TABLE organizations (
	key         text COLLATE "C" PRIMARY KEY,
	name        text NOT NULL,
	description text NOT NULL,
	created     timestamptz NOT NULL
);

CREATE TABLE audit (
	seq            bigserial PRIMARY KEY,
	time           timestamptz NOT NULL,
	actor          text NOT NULL,
	api            text NOT NULL,
	op             text NOT NULL,
	kind           text NOT NULL,
	action         text NOT NULL,
	resource       text NOT NULL,
	name           text NOT NULL,
	before_active  boolean,
	before_managed boolean,
	after_active   boolean,
	after_managed  boolean,
	detail         text NOT NULL,
	truncated      boolean NOT NULL
);

CREATE TABLE sessions (
	hash      text COLLATE "C" PRIMARY KEY,
	user_id   text COLLATE "C" NOT NULL,
	password  text NOT NULL,
	created   timestamptz NOT NULL,
	last_seen timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id, hash);

CREATE TABLE failures (
	login text COLLATE "C" PRIMARY KEY,
	count integer NOT NULL,
	last  timestamptz NOT NULL
);

-- generation moves with every committed change to what resolving a token
-- reads (see Store.run): replicas compare it to know whether what they
-- derived from the store (cached tokens) still holds.
CREATE SEQUENCE generation;
`,
	// 2: the token a change came with (the provisioning status per token).
	`ALTER TABLE audit ADD COLUMN token text NOT NULL DEFAULT ''`,
	// 3: a login's skeleton may outgrow a B-tree entry (255 Hangul
	// syllables make 5 kB); it is only ever looked up by equality, which a
	// hash index serves at any length.
	`DROP INDEX users_skeleton; CREATE INDEX users_skeleton ON users USING hash (skeleton)`,
	// 4: the n-gram index (store.UserGrams) of "contains" searches; the
	// rows written before it are filled by backfillGrams.
	`ALTER TABLE users ADD COLUMN grams text[] NOT NULL DEFAULT '{}';
CREATE INDEX users_grams ON users USING gin (grams)`,
	// 5: lookups of a login by equality (the uniqueness check of every
	// create) through a hash index, which the planner prefers: serializable
	// transactions lock what they read of a B-tree by page, so creates of
	// neighbouring logins (user1, user2...) conflicted and ran again (a
	// quarter of them under load); a hash bucket holds unrelated logins.
	// The unique B-tree stays for uniqueness and prefix searches.
	`CREATE INDEX users_login_hash ON users USING hash (login_fold)`,
	// 6: updates of a user that change no indexed column (deactivation,
	// reactivation, last connection, a new name) rewrite the row on its page
	// without touching any index (heap-only tuples): the partial index of
	// active users made every deactivation a new entry in all nine indexes
	// (the n-gram one too), 170 µs of the database's time instead of 60.
	// Active users are listed by the primary key instead, skipping the few
	// inactive ones. A tenth of every page is left free for those rewrites
	// (pages written from now on).
	`DROP INDEX users_active; ALTER TABLE users SET (fillfactor = 90)`,
	// 7: the skeleton's hash index, which every create reads (checkLogin),
	// fills its buckets to a quarter rather than three: a serializable
	// transaction locks each bucket it reads, and a create writes one, so
	// with fewer creates sharing a bucket fewer concurrent creates conflict
	// and run again. With 100k users the index takes 1,026 pages instead
	// of 584 (fill factor 10: 2,562 pages, half the conflicts again, no
	// faster). Rebuilt now, so that an existing store has the buckets at
	// once (0.2 s with 100k users, writes waiting meanwhile).
	`ALTER INDEX users_skeleton SET (fillfactor = 25); REINDEX INDEX users_skeleton`,
	// 8: the n-gram index holds the trigrams of every e-mail address of a
	// user's SCIM attributes (store.IndexedTexts), not only the primary
	// one's: backfillGrams adds them to the rows written before.
	``,
	// 9: the users' counts (every user, active, managed) kept by a trigger
	// in the transaction that changes them, so that counting reads a few
	// rows, not every user (a page of an unfiltered list, the default
	// group's member count, readiness). One row a slot, the writing
	// backend's pid modulo 1024: concurrent transactions almost never write
	// one row (when they do, one waits and runs again), while the rows stay
	// few. CREATE TRIGGER waits for the writes in flight (of replicas not
	// upgraded yet) and holds off new ones until this commits; only then
	// does slot 0 take the counts of the users stored, so none is counted
	// twice or missed.
	`CREATE TABLE user_counts (
	slot    integer PRIMARY KEY,
	total   bigint NOT NULL,
	active  bigint NOT NULL,
	managed bigint NOT NULL
);
CREATE FUNCTION count_users() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	t bigint := 0;
	a bigint := 0;
	m bigint := 0;
BEGIN
	IF TG_OP <> 'INSERT' THEN
		t := t - 1; a := a - OLD.active::int; m := m - OLD.managed::int;
	END IF;
	IF TG_OP <> 'DELETE' THEN
		t := t + 1; a := a + NEW.active::int; m := m + NEW.managed::int;
	END IF;
	IF t <> 0 OR a <> 0 OR m <> 0 THEN
		INSERT INTO user_counts VALUES (pg_backend_pid() % 1024, t, a, m)
		ON CONFLICT (slot) DO UPDATE SET total = user_counts.total + EXCLUDED.total,
			active = user_counts.active + EXCLUDED.active, managed = user_counts.managed + EXCLUDED.managed;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER users_count AFTER INSERT OR DELETE OR UPDATE OF active, managed ON users
	FOR EACH ROW EXECUTE FUNCTION count_users();
INSERT INTO user_counts SELECT 0, count(*), count(*) FILTER (WHERE active), count(*) FILTER (WHERE managed) FROM users`,
}

// gramsVersions are the schema versions whose rows backfillGrams fills:
// 4 added users.grams, 8 the SCIM e-mail addresses to it.
var gramsVersions = []int{4, 8}

// backfillGrams fills the n-gram column of the users whose trigrams
// (store.UserGrams) it lacks, in the migrating transaction, a few thousand
// users at a time (memory stays bounded with a million): the trigrams are
// computed in Go, as every later write computes them, and only the rows
// they change are written.
func backfillGrams(ctx context.Context, tx pgx.Tx) error {
	for after := ""; ; {
		rows, err := tx.Query(ctx, `SELECT id, login, name, email, scim, grams FROM users WHERE id > $1 ORDER BY id LIMIT 5000`, after)
		if err != nil {
			return err
		}
		var batch pgx.Batch
		n := 0
		for rows.Next() {
			var u store.User
			var had []string
			if err := rows.Scan(&u.ID, &u.Login, &u.Name, &u.Email, &u.SCIM, &had); err != nil {
				return err
			}
			if grams := store.UserGrams(u); !slices.Equal(grams, had) {
				batch.Queue(`UPDATE users SET grams = $2 WHERE id = $1`, u.ID, grams)
			}
			after, n = u.ID, n+1
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if batch.Len() > 0 {
			if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
				return err
			}
		}
	}
}

// migrationLock is the advisory lock key under which the schema is created
// and migrated, so that replicas starting together migrate once.
const migrationLock = 0x5c19a7e

// migrate brings the schema up to date under an advisory lock held for one
// transaction. It returns the version found before.
func migrate(ctx context.Context, conn *pgx.Conn) (int, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
		return 0, err
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case err == pgx.ErrNoRows:
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version VALUES (0)`); err != nil {
			return 0, err
		}
	case err != nil:
		return 0, err
	}
	if version > len(migrations) {
		return version, fmt.Errorf("the database schema is version %d, newer than this scimgate knows (%d): upgrade scimgate", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if migrations[v] == "" {
			continue // done in Go: see below
		}
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return version, fmt.Errorf("schema migration %d: %w", v+1, err)
		}
	}
	if i := slices.IndexFunc(gramsVersions, func(v int) bool { return v > version }); version > 0 && i >= 0 {
		if err := backfillGrams(ctx, tx); err != nil {
			return version, fmt.Errorf("schema migration %d: %w", gramsVersions[i], err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations)); err != nil {
		return version, err
	}
	return version, tx.Commit(ctx)
}
