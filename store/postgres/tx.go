package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimgate/scimgate/store"
)

// tx is one store.Tx over one pgx transaction.
type tx struct {
	ctx   context.Context
	conn  *pgxpool.Conn
	begin string // the BEGIN not sent yet: it goes with the first statement
	// commitFirst: the connection holds an earlier read-only transaction
	// whose COMMIT goes first (see conns.go); readOpen: a read-only
	// transaction is open that only its COMMIT ends (that one, or this
	// View's own once it sent its BEGIN).
	commitFirst, readOpen bool
	// readOnly: a View's transaction.
	readOnly bool
	cursors  int
	// failed is the first error of the transaction itself (a query that
	// broke it, a serialization failure): Update retries on it even when fn
	// turned it into an error of its own.
	failed error
	queued []stmt // statements sent with the next one (see exec)
	wrote  int    // writes issued, queued or sent: a read ahead older than one is not kept
	sends  int    // round trips to the database: what was queued before one has reached it
	memo   memo
	// access: the transaction changed what resolving a token reads, so the
	// generation moves at its commit; holders: users whose record or
	// memberships it changed, which move it if one of them holds a token
	// (see store.Store.Generation).
	access  bool
	holders []string
}

// memo remembers, for one transaction, the records it read or wrote that
// the rules read again and again (a request reads its caller, the target
// user and their permissions several times): each is one query, not one a
// read. Writes keep it current.
type memo struct {
	users  map[string]store.User
	groups map[string]store.Group
	// groupNames: ids by folded name, of groups in groups (checked there:
	// a write may have renamed one).
	groupNames map[string]string
	perms      map[string][]store.PermKey // by subjectKey
	groupsOf   map[string][]string        // by user id
	tokens     map[string][]store.Token   // by user id
	// logins: checks of logins read ahead (readAheadLogin), the id and
	// login of each user holding the folded login or sharing its skeleton.
	logins map[loginKey][][2]string
	// failures: password failures by login, read ahead (ReadAheadPage).
	failures map[string]store.Failures
}

// loginKey is a login's folded form and skeleton.
type loginKey struct{ fold, skeleton string }

func newTx(ctx context.Context, conn *pgxpool.Conn, begin string, commitFirst bool) *tx {
	return &tx{ctx: ctx, conn: conn, begin: begin, readOnly: begin == beginRead, memo: newMemo(),
		commitFirst: commitFirst, readOpen: commitFirst}
}

func newMemo() memo {
	return memo{users: map[string]store.User{}, groups: map[string]store.Group{}, groupNames: map[string]string{},
		perms: map[string][]store.PermKey{}, groupsOf: map[string][]string{}, tokens: map[string][]store.Token{},
		logins: map[loginKey][][2]string{}, failures: map[string]store.Failures{}}
}

// rollback ends the transaction, if it began, without committing it (and
// the earlier one whose COMMIT was to go first).
func (t *tx) rollback() {
	if t.begin == "" || t.commitFirst {
		t.conn.Exec(t.ctx, "ROLLBACK")
	}
	t.commitFirst, t.readOpen = false, false
}

// cloneUser copies what a caller could change in place.
func cloneUser(u store.User) store.User {
	u.SCMAccounts, u.Policy.TrustedHosts = slices.Clone(u.SCMAccounts), slices.Clone(u.Policy.TrustedHosts)
	u.SCIM = slices.Clone(u.SCIM)
	return u
}

// note keeps the first database error of the transaction and returns err.
func (t *tx) note(err error) error {
	if err != nil && t.failed == nil && !errors.Is(err, pgx.ErrNoRows) {
		t.failed = err
	}
	return err
}

// stmt is a statement of a transaction whose answer fn does not wait for
// (see exec).
type stmt struct {
	sql  string
	args []any
	scan func(pgx.Row) error  // reads its one row (RETURNING), if set
	rows func(pgx.Rows) error // or reads every row (ReadAhead), if set
}

// hasNUL reports whether a string argument holds a NUL (see errNUL).
func hasNUL(args []any) bool {
	for _, a := range args {
		if s, ok := a.(string); ok && strings.IndexByte(s, 0) >= 0 {
			return true
		}
	}
	return false
}

// rows runs a statement of the transaction. The BEGIN not sent yet and the
// statements queued by exec go with it, in the same round trip (a
// pipeline): a transaction costs no round trip of its own to start, and a
// write none of its own.
func (t *tx) rows(sql string, args ...any) (pgx.Rows, error) {
	if hasNUL(args) {
		return nil, errNUL
	}
	t.sends++
	if t.begin == "" && len(t.queued) == 0 {
		return t.conn.Query(t.ctx, sql, args...)
	}
	if len(args) > 0 {
		if _, ok := args[0].(pgx.QueryExecMode); ok { // a mode of its own: not in a batch
			br, err := t.send()
			if err == nil {
				err = br.Close()
			}
			if err != nil {
				return nil, err
			}
			return t.conn.Query(t.ctx, sql, args...)
		}
	}
	br, err := t.send(stmt{sql: sql, args: args})
	if err != nil {
		return nil, err
	}
	r, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return batchRows{r, br}, nil
}

// send sends, in one round trip, the COMMIT of the connection's earlier
// transaction and the BEGIN not sent yet (if due), the queued statements
// and then last, and reads the answers before last's.
func (t *tx) send(last ...stmt) (pgx.BatchResults, error) {
	t.sends++
	b := &pgx.Batch{}
	firsts := 0 // the COMMIT and BEGIN queued before the statements
	if t.commitFirst {
		b.Queue("COMMIT")
		firsts++
	}
	if t.begin != "" {
		b.Queue(t.begin)
		firsts++
	}
	queued := t.queued
	t.commitFirst, t.begin, t.queued = false, "", nil
	for _, s := range append(queued, last...) {
		b.Queue(s.sql, s.args...)
	}
	br := t.conn.SendBatch(t.ctx, b)
	t.readOpen = t.readOnly
	for range firsts {
		if _, err := br.Exec(); err != nil {
			t.readOpen = false
			br.Close()
			return nil, err
		}
	}
	for _, s := range queued {
		var err error
		switch {
		case s.rows != nil:
			var r pgx.Rows
			if r, err = br.Query(); err == nil {
				err = s.rows(r)
			}
		case s.scan != nil:
			err = s.scan(br.QueryRow())
		default:
			_, err = br.Exec()
		}
		if err != nil {
			br.Close()
			return nil, err
		}
	}
	return br, nil
}

// errNUL: PostgreSQL's text cannot hold NUL, so a statement with a NUL in
// a string is not sent. Stored text never holds one (validation refuses
// control characters; the audit trail replaces them), so a lookup of such a
// key finds nothing, and a write of one is invalid.
var errNUL = store.Errorf(store.EInvalid, "Text must not contain NUL characters")

// batchRows are the rows of a statement sent in a batch: closing them
// closes the batch.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	r.br.Close()
}

// execTag runs a statement that returns no rows.
func (t *tx) execTag(sql string, args ...any) (pgconn.CommandTag, error) {
	t.wrote++
	r, err := t.rows(sql, args...)
	if err == errNUL {
		return pgconn.CommandTag{}, err
	}
	if err != nil {
		return pgconn.CommandTag{}, t.note(err)
	}
	r.Close()
	return r.CommandTag(), t.note(r.Err())
}

// exec queues a statement whose only answer is success or failure: it goes
// to the database with the transaction's next statement or with its COMMIT,
// in the same round trip. Its failure fails that statement or the commit,
// and the transaction with it, as it would have failed here (Update runs fn
// again on a conflict).
func (t *tx) exec(sql string, args ...any) error {
	return t.later(stmt{sql: sql, args: args})
}

// later queues s (see exec).
func (t *tx) later(s stmt) error {
	if hasNUL(s.args) {
		return errNUL
	}
	if t.failed != nil {
		return t.failed
	}
	t.wrote++
	t.queued = append(t.queued, s)
	return nil
}

// execFound runs a statement that must touch a row: none is ErrNotFound.
func (t *tx) execFound(sql string, args ...any) error {
	tag, err := t.execTag(sql, args...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// one reads one row with scan; no row is ErrNotFound.
func one[T any](t *tx, scan func(pgx.Row) (T, error), sql string, args ...any) (T, error) {
	var zero T
	r, err := t.rows(sql, args...)
	if err == errNUL {
		return zero, store.ErrNotFound
	}
	if err != nil {
		return zero, t.note(err)
	}
	defer r.Close()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return zero, t.note(err)
		}
		return zero, store.ErrNotFound
	}
	v, err := scan(r)
	if err != nil {
		return v, t.note(err)
	}
	r.Close()
	return v, t.note(r.Err())
}

// all reads every row of a small result.
func all[T any](t *tx, scan func(pgx.Row) (T, error), sql string, args ...any) ([]T, error) {
	r, err := t.rows(sql, args...)
	if err == errNUL {
		return nil, nil
	}
	if err != nil {
		return nil, t.note(err)
	}
	out, err := collect(r, scan)
	return out, t.note(err)
}

// collect scans every row of r, then closes it.
func collect[T any](r pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer r.Close()
	var out []T
	for r.Next() {
		v, err := scan(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, r.Err()
}

// cursorPage is how many rows a cursor fetches at a time.
const cursorPage = 200

// cursor yields the rows of a result that may be large. The first page is
// one plain query (most results fit: one round trip); a longer result goes
// on through a server-side cursor fetched a page at a time, so the caller
// may stop early and may run other queries of the transaction between
// rows. Cursors end with the transaction: none is closed by hand.
func cursor[T any](t *tx, scan func(pgx.Row) (T, error), sql string, args ...any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		page, err := all(t, scan, fmt.Sprintf("%s LIMIT %d", sql, cursorPage+1), args...)
		if err != nil {
			yield(zero, err)
			return
		}
		for i, v := range page {
			if i == cursorPage {
				break
			}
			if !yield(v, nil) {
				return
			}
		}
		if len(page) <= cursorPage {
			return
		}
		t.cursors++
		name := fmt.Sprintf("c%d", t.cursors)
		if err := t.exec(fmt.Sprintf("DECLARE %s NO SCROLL CURSOR FOR %s OFFSET %d", name, sql, cursorPage), args...); err != nil {
			yield(zero, err)
			return
		}
		for {
			// The simple protocol: FETCH's columns depend on the cursor, so
			// its text must not be prepared and cached.
			page, err := all(t, scan, fmt.Sprintf("FETCH %d FROM %s", cursorPage, name), pgx.QueryExecModeSimpleProtocol)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, v := range page {
				if !yield(v, nil) {
					return
				}
			}
			if len(page) < cursorPage {
				return
			}
		}
	}
}

// ids adapts a cursor of strings to an iterator that stops at an error
// (the transaction keeps it: the Update retries or fails).
func ids(seq iter.Seq2[string, error]) iter.Seq[string] {
	return func(yield func(string) bool) {
		for id, err := range seq {
			if err != nil || !yield(id) {
				return
			}
		}
	}
}

func scanString(r pgx.Row) (string, error) {
	var s string
	err := r.Scan(&s)
	return s, err
}

// scanPair reads a row of two text columns.
func scanPair(r pgx.Row) ([2]string, error) {
	var p [2]string
	err := r.Scan(&p[0], &p[1])
	return p, err
}

func scanCount(r pgx.Row) (int, error) {
	var n int
	err := r.Scan(&n)
	return n, err
}

func (t *tx) count(sql string, args ...any) (int, error) { return one(t, scanCount, sql, args...) }

// unique refuses, with msg, a unique key that another record holds: query
// selects the holder's id by the key ($1, and more args from $2 on); id is
// the record being written.
func (t *tx) unique(query, key, id, msg string, more ...any) error {
	owner, err := one(t, scanString, query, append([]any{key}, more...)...)
	switch {
	case err == nil && owner != id:
		return store.Errorf(store.EConflict, "%s", msg)
	case err != nil && !store.IsNotFound(err):
		return err
	}
	return nil
}

// utc reads a time as the store keeps them: UTC, zero as time.Time{}.
func utc(v time.Time) time.Time {
	if v.IsZero() {
		return time.Time{}
	}
	return v.UTC()
}

func utcPtr(v *time.Time) *time.Time {
	if v == nil {
		return nil
	}
	u := v.UTC()
	return &u
}

// list keeps empty lists nil, as they were stored.
func list(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return v
}

// nonNil stores a nil list as an empty array.
func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// --- users

const userCols = `id, login, name, email, active, local, managed, external_id, external_login, external_provider,
	scm_accounts, password_hash, scim, created, updated, last_connection, version, locale, password_changed,
	password_expiration_days, session_timeout, trusted_hosts, lockout_threshold`

func scanUser(r pgx.Row) (store.User, error) { return scanUserAnd(r) }

// scanUserAnd reads the columns of userCols, then the extra ones into dest.
func scanUserAnd(r pgx.Row, dest ...any) (store.User, error) {
	var u store.User
	var scim []byte
	var timeout int64
	err := r.Scan(append([]any{&u.ID, &u.Login, &u.Name, &u.Email, &u.Active, &u.Local, &u.Managed, &u.ExternalID, &u.ExternalLogin,
		&u.ExternalProvider, &u.SCMAccounts, &u.PasswordHash, &scim, &u.Created, &u.Updated, &u.LastConnection, &u.Version,
		&u.Locale, &u.PasswordChanged, &u.Policy.PasswordExpirationDays, &timeout, &u.Policy.TrustedHosts, &u.Policy.LockoutThreshold}, dest...)...)
	if len(scim) > 0 {
		u.SCIM = scim
	}
	u.SCMAccounts, u.Policy.TrustedHosts = list(u.SCMAccounts), list(u.Policy.TrustedHosts)
	u.Created, u.Updated, u.PasswordChanged = utc(u.Created), utc(u.Updated), utc(u.PasswordChanged)
	u.LastConnection, u.Policy.SessionTimeout = utcPtr(u.LastConnection), time.Duration(timeout)
	return u, err
}

func (t *tx) User(id string) (store.User, error) {
	if u, ok := t.memo.users[id]; ok {
		return cloneUser(u), nil
	}
	list, err := t.lookUsers(`id = $1`, id)
	if err != nil || len(list) == 0 {
		return store.User{}, cmp.Or[error](err, store.ErrNotFound)
	}
	t.memo.users[id] = cloneUser(list[0])
	return list[0], nil
}

func (t *tx) UsersByID(ids []string) ([]store.User, error) {
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return strings.IndexByte(id, 0) >= 0 })
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := t.lookUsers(`id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]store.User, len(found))
	for _, u := range found {
		byID[u.ID] = u
	}
	out := make([]store.User, 0, len(ids))
	for _, id := range ids {
		if u, ok := byID[id]; ok {
			out = append(out, u)
		}
	}
	return out, nil
}

func (t *tx) UserByLogin(login string) (store.User, error) {
	list, err := t.lookUsers(`login_fold = $1`, store.FoldLogin(login))
	if err != nil || len(list) == 0 {
		return store.User{}, cmp.Or[error](err, store.ErrNotFound)
	}
	return list[0], nil
}

func (t *tx) UsersByExternalID(extID string) ([]store.User, error) {
	if extID == "" {
		return nil, nil
	}
	return t.lookUsers(`external_id = $1 ORDER BY id`, extID)
}

// lookUsers reads the users one key finds. In a read-only transaction each
// row also carries the ids of the user's groups (a subquery on the
// member_of index), kept for GroupsOf: a SCIM user, which lists its groups,
// then costs one round trip, not two. Writes read without them: SERIALIZABLE
// would see those reads conflict with concurrent membership changes.
func (t *tx) lookUsers(where string, arg any) ([]store.User, error) {
	if !t.readOnly {
		return all(t, scanUser, `SELECT `+userCols+` FROM users WHERE `+where, arg)
	}
	type withGroups struct {
		store.User
		groups []string
	}
	rows, err := all(t, func(r pgx.Row) (withGroups, error) {
		var w withGroups
		var err error
		w.User, err = scanUserAnd(r, &w.groups)
		return w, err
	}, `SELECT `+userCols+`, ARRAY(SELECT group_id FROM members WHERE user_id = users.id ORDER BY group_id) FROM users WHERE `+where, arg)
	out := make([]store.User, len(rows))
	for i, w := range rows {
		t.memo.groupsOf[w.ID] = list(w.groups)
		out[i] = w.User
	}
	return out, err
}

func (t *tx) PutUser(u store.User) error {
	t.holders = append(t.holders, u.ID)
	fold, skeleton := store.FoldLogin(u.Login), store.LoginSkeleton(u.Login)
	if read, ok := t.memo.users[u.ID]; !ok || read.Login != u.Login {
		if err := t.checkLogin(u, fold, skeleton); err != nil {
			return err
		}
	} // else this transaction read or wrote u's row holding this login: no other row can (UNIQUE)
	var scim []byte
	if len(u.SCIM) > 0 {
		scim = u.SCIM
	}
	delete(t.memo.users, u.ID) // kept only once written
	for k, rows := range t.memo.logins {
		if k.skeleton == skeleton || slices.ContainsFunc(rows, func(r [2]string) bool { return r[0] == u.ID }) { // a fold's skeleton is its login's
			delete(t.memo.logins, k) // the write may change who holds it
		}
	}
	defer func() {
		if t.failed == nil {
			t.memo.users[u.ID] = cloneUser(u)
		}
	}()
	return t.exec(`INSERT INTO users (`+userCols+`, login_fold, skeleton, name_fold, grams)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27)
		ON CONFLICT (id) DO UPDATE SET login=$2, name=$3, email=$4, active=$5, local=$6, managed=$7, external_id=$8,
		external_login=$9, external_provider=$10, scm_accounts=$11, password_hash=$12, scim=$13, created=$14, updated=$15,
		last_connection=$16, version=$17, locale=$18, password_changed=$19, password_expiration_days=$20,
		session_timeout=$21, trusted_hosts=$22, lockout_threshold=$23, login_fold=$24, skeleton=$25, name_fold=$26, grams=$27`,
		u.ID, u.Login, u.Name, u.Email, u.Active, u.Local, u.Managed, u.ExternalID, u.ExternalLogin, u.ExternalProvider,
		nonNil(u.SCMAccounts), u.PasswordHash, scim, u.Created, u.Updated, u.LastConnection, u.Version, u.Locale,
		u.PasswordChanged, u.Policy.PasswordExpirationDays, int64(u.Policy.SessionTimeout), nonNil(u.Policy.TrustedHosts),
		u.Policy.LockoutThreshold, fold, skeleton, store.FoldLogin(u.Name), store.UserGrams(u))
}

// loginCheck reads the holder of a folded login ($1) and the users of its
// skeleton ($2) but one ($3). A skeleton is computed from the folded login
// (store.LoginSkeleton), so the holder shares it and one index lookup, by
// skeleton, finds both. That matters to concurrent creates: a serializable
// transaction's lookup locks the hash bucket it reads, a create writes one
// bucket in each index, and two lookups a create (login and skeleton) made
// twice the conflicts between concurrent creates' transactions. Were a
// stored skeleton ever to disagree, the login's UNIQUE index still refuses
// the second holder.
const loginCheck = `SELECT id, login FROM users WHERE skeleton = $2 AND (login_fold = $1 OR id <> $3)`

// checkLogin refuses u's login when another user holds it, or, for a new
// user or a changed login, when it is confusable with a stored one
// (look-alikes stored before the check existed stay). One query reads the
// holder of the folded login and the other users of the same skeleton,
// through their indexes only, not u's own row by id: new users' ids are
// time-ordered, so reading by id would touch the one index page every
// concurrent create writes, and serializable transactions would conflict
// on it.
func (t *tx) checkLogin(u store.User, fold, skeleton string) error {
	rows, ok := t.memo.logins[loginKey{fold, skeleton}]
	if !ok {
		var err error
		if rows, err = all(t, scanPair, loginCheck, fold, skeleton, u.ID); err != nil {
			return err
		}
	}
	unchanged := false // u's own row holds the login as it is
	for _, r := range rows {
		if id, login := r[0], r[1]; store.FoldLogin(login) == fold {
			if id != u.ID {
				return store.Errorf(store.EConflict, "A user with login '%s' already exists", u.Login)
			}
			unchanged = login == u.Login
		}
	}
	if unchanged {
		return nil
	}
	// u is new, or its login changed (else its own row would hold it).
	for _, r := range rows {
		if id, login := r[0], r[1]; id != u.ID && store.Confusable(u.Login, login) {
			return store.Errorf(store.EConflict, "Login '%s' is confusable with the existing login '%s'", u.Login, login)
		}
	}
	return nil
}

func (t *tx) Users(after string) iter.Seq2[store.User, error] {
	return cursor(t, scanUser, `SELECT `+userCols+` FROM users WHERE id > $1 ORDER BY id`, after)
}

func (t *tx) UsersByLogin() iter.Seq2[store.User, error] {
	return cursor(t, scanUser, `SELECT `+userCols+` FROM users ORDER BY login_fold`)
}

// prefixQueries are the IDsByPrefix queries, by index: $1 the prefix, $2
// the prefix followed by the largest code point, so that the range stays
// on the index (every string with the prefix sorts at or after it, and
// before that bound).
var prefixQueries = map[store.Index]string{
	store.IndexUserLogin:      `SELECT id FROM users WHERE login_fold >= $1 AND login_fold < $2 ORDER BY login_fold`,
	store.IndexUserName:       `SELECT id FROM users WHERE name_fold >= $1 AND name_fold < $2 ORDER BY name_fold, id`,
	store.IndexUserExternalID: `SELECT id FROM users WHERE external_id >= $1 AND external_id < $2 AND external_id <> '' ORDER BY external_id, id`,
	store.IndexGroupName:      `SELECT id FROM groups WHERE name_fold >= $1 AND name_fold < $2 ORDER BY name_fold`,
}

func (t *tx) IDsByPrefix(index store.Index, prefix string) iter.Seq[string] {
	if index != store.IndexUserExternalID {
		prefix = store.FoldLogin(prefix)
	}
	return ids(cursor(t, scanString, prefixQueries[index], prefix, prefix+"\U0010FFFF"))
}

func (t *tx) IDsWithGrams(grams []string) iter.Seq[string] {
	if noGrams(grams) {
		return func(func(string) bool) {}
	}
	return ids(cursor(t, scanString, `SELECT id FROM users WHERE grams @> $1 ORDER BY id`, grams))
}

// UsersWithGrams reads the users with the ids, in the same query: the
// index's matches are read from the table anyway, to check them.
func (t *tx) UsersWithGrams(grams []string) iter.Seq2[store.User, error] {
	if noGrams(grams) {
		return func(func(store.User, error) bool) {}
	}
	return cursor(t, scanUser, `SELECT `+userCols+` FROM users WHERE grams @> $1 ORDER BY id`, grams)
}

// noGrams reports whether no user can hold every one of grams: none are
// asked for, or one holds a NUL, which text cannot.
func noGrams(grams []string) bool {
	return len(grams) == 0 || slices.ContainsFunc(grams, func(g string) bool { return strings.Contains(g, "\x00") })
}

func (t *tx) UsersByName() iter.Seq2[store.User, error] {
	return cursor(t, scanUser, `SELECT `+userCols+` FROM users ORDER BY name_fold, id`)
}

// The counts of users are read from user_counts (schema migration 9),
// which a trigger keeps in every transaction that changes them.
func (t *tx) CountUsers() (int, error) {
	return t.count(`SELECT coalesce(sum(total), 0)::bigint FROM user_counts`)
}

func (t *tx) CountManagedUsers() (int, error) {
	return t.count(`SELECT coalesce(sum(managed), 0)::bigint FROM user_counts`)
}

func (t *tx) ActiveUsers() iter.Seq[string] {
	return ids(cursor(t, scanString, `SELECT id FROM users WHERE active ORDER BY id`))
}

func (t *tx) CountActiveUsers() (int, error) {
	return t.count(`SELECT coalesce(sum(active), 0)::bigint FROM user_counts`)
}

// --- groups

const groupCols = `id, name, description, external_id, managed, organization, created, updated, version`

func scanGroup(r pgx.Row) (store.Group, error) {
	var g store.Group
	err := r.Scan(&g.ID, &g.Name, &g.Description, &g.ExternalID, &g.Managed, &g.Organization, &g.Created, &g.Updated, &g.Version)
	g.Created, g.Updated = utc(g.Created), utc(g.Updated)
	return g, err
}

func (t *tx) Group(id string) (store.Group, error) {
	if g, ok := t.memo.groups[id]; ok {
		return g, nil
	}
	g, err := one(t, scanGroup, `SELECT `+groupCols+` FROM groups WHERE id = $1`, id)
	if err == nil {
		t.memo.groups[id] = g
	}
	return g, err
}

func (t *tx) GroupByName(name string) (store.Group, error) {
	fold := store.FoldLogin(name)
	if g, ok := t.memo.groups[t.memo.groupNames[fold]]; ok && store.FoldLogin(g.Name) == fold {
		return g, nil
	}
	g, err := one(t, scanGroup, `SELECT `+groupCols+` FROM groups WHERE name_fold = $1`, fold)
	if err == nil {
		t.memo.groups[g.ID], t.memo.groupNames[fold] = g, g.ID
	}
	return g, err
}

func (t *tx) GroupsByExternalID(extID string) ([]store.Group, error) {
	if extID == "" {
		return nil, nil
	}
	return all(t, scanGroup, `SELECT `+groupCols+` FROM groups WHERE external_id = $1 ORDER BY id`, extID)
}

func (t *tx) PutGroup(g store.Group) error {
	t.access = true // the default group is found by name
	fold := store.FoldLogin(g.Name)
	if err := t.unique(`SELECT id FROM groups WHERE name_fold = $1`, fold, g.ID, fmt.Sprintf("Group '%s' already exists", g.Name)); err != nil {
		return err
	}
	delete(t.memo.groups, g.ID)
	defer func() {
		if t.failed == nil {
			t.memo.groups[g.ID] = g
		}
	}()
	return t.exec(`INSERT INTO groups (`+groupCols+`, name_fold) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
		ON CONFLICT (id) DO UPDATE SET name=$2, description=$3, external_id=$4, managed=$5, organization=$6,
		created=$7, updated=$8, version=$9, name_fold=$10`,
		g.ID, g.Name, g.Description, g.ExternalID, g.Managed, g.Organization, g.Created, g.Updated, g.Version, fold)
}

func (t *tx) DeleteGroup(id string) error {
	t.access = true
	delete(t.memo.groups, id)
	delete(t.memo.perms, subjectKey(store.GroupSubject(id)))
	clear(t.memo.groupsOf)
	if err := t.execFound(`DELETE FROM groups WHERE id = $1`, id); err != nil {
		return err
	}
	if err := t.exec(`DELETE FROM members WHERE group_id = $1`, id); err != nil {
		return err
	}
	return t.exec(`DELETE FROM perms WHERE subject = $1`, subjectKey(store.GroupSubject(id)))
}

func (t *tx) Groups(after string) iter.Seq2[store.Group, error] {
	return cursor(t, scanGroup, `SELECT `+groupCols+` FROM groups WHERE id > $1 ORDER BY id`, after)
}

func (t *tx) GroupsByName() iter.Seq2[store.Group, error] {
	return cursor(t, scanGroup, `SELECT `+groupCols+` FROM groups ORDER BY name_fold`)
}

func (t *tx) CountGroups() (int, error) { return t.count(`SELECT count(*) FROM groups`) }

// --- memberships

func (t *tx) AddMember(groupID, userID string) error {
	t.holders = append(t.holders, userID)
	delete(t.memo.groupsOf, userID)
	return t.exec(`INSERT INTO members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, groupID, userID)
}

func (t *tx) RemoveMember(groupID, userID string) error {
	t.holders = append(t.holders, userID)
	delete(t.memo.groupsOf, userID)
	return t.exec(`DELETE FROM members WHERE group_id = $1 AND user_id = $2`, groupID, userID)
}

func (t *tx) IsMember(groupID, userID string) (bool, error) {
	if list, ok := t.memo.groupsOf[userID]; ok { // read with the user, or by GroupsOf
		return slices.Contains(list, groupID), nil
	}
	n, err := t.count(`SELECT count(*) FROM members WHERE group_id = $1 AND user_id = $2`, groupID, userID)
	return n > 0, err
}

func (t *tx) Members(groupID string) iter.Seq[string] {
	return ids(cursor(t, scanString, `SELECT user_id FROM members WHERE group_id = $1 ORDER BY user_id`, groupID))
}

func (t *tx) CountMembers(groupID string) (int, error) {
	return t.count(`SELECT count(*) FROM members WHERE group_id = $1`, groupID)
}

const groupsOfUser = `SELECT group_id FROM members WHERE user_id = $1 ORDER BY group_id`

func (t *tx) GroupsOf(userID string) iter.Seq[string] {
	return func(yield func(string) bool) {
		list, ok := t.memo.groupsOf[userID]
		if !ok {
			var err error
			if list, err = all(t, scanString, groupsOfUser, userID); err != nil {
				return
			}
			t.memo.groupsOf[userID] = list
		}
		for _, id := range list {
			if !yield(id) {
				return
			}
		}
	}
}

// --- permissions

// subjectKey is a holder as stored: its kind byte, then its id.
func subjectKey(s store.Subject) string { return string(s.Kind) + s.ID }

func (t *tx) Grant(s store.Subject, perm store.PermKey) error {
	t.access = true
	delete(t.memo.perms, subjectKey(s))
	return t.exec(`INSERT INTO perms (subject, perm) VALUES ($1, $2) ON CONFLICT DO NOTHING`, subjectKey(s), string(perm))
}

func (t *tx) Revoke(s store.Subject, perm store.PermKey) error {
	t.access = true
	delete(t.memo.perms, subjectKey(s))
	return t.exec(`DELETE FROM perms WHERE subject = $1 AND perm = $2`, subjectKey(s), string(perm))
}

// subjectsPerms reads the keys of the subjects a subquery yields (as
// column subject): one row a key, in key order, and one row with an empty
// key for a subject that holds none (see keepPerms).
func subjectsPerms(subjects string) string {
	return `SELECT s.subject, coalesce(p.perm, '') FROM (` + subjects + `) s LEFT JOIN perms p ON p.subject = s.subject ORDER BY p.perm`
}

// keepPerms keeps in the memo the keys rows of subjectsPerms grant, for
// each subject the memo does not hold yet (a held one may have changed
// since in this transaction).
func (t *tx) keepPerms(rows [][2]string) {
	read := map[string]bool{}
	for _, r := range rows {
		subject, perm := r[0], r[1]
		if _, held := t.memo.perms[subject]; !held {
			read[subject] = true
			t.memo.perms[subject] = []store.PermKey{} // read, none held: not nil
		}
		if read[subject] && perm != "" {
			t.memo.perms[subject] = append(t.memo.perms[subject], store.PermKey(perm))
		}
	}
}

// Permissions reads the subjects not in the memo in one query and keeps
// each one's keys, none included, in the memo.
func (t *tx) Permissions(subjects ...store.Subject) ([]store.PermKey, error) {
	var missing []string
	for _, s := range subjects {
		if k := subjectKey(s); t.memo.perms[k] == nil && !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		rows, err := all(t, scanPair, subjectsPerms(`SELECT unnest($1::text[]) AS subject`), missing)
		if err != nil {
			return nil, err
		}
		t.keepPerms(rows)
	}
	var out []store.PermKey
	for _, s := range subjects {
		out = append(out, t.memo.perms[subjectKey(s)]...)
	}
	if len(subjects) > 1 {
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out, nil
}

func (t *tx) Holders(perm store.PermKey) iter.Seq[store.Subject] {
	return func(yield func(store.Subject) bool) {
		for k := range ids(cursor(t, scanString, `SELECT subject FROM perms WHERE perm = $1 ORDER BY subject`, string(perm))) {
			if k != "" && !yield(store.Subject{Kind: k[0], ID: k[1:]}) {
				return
			}
		}
	}
}

// --- tokens

const tokenCols = `hash, user_id, name, type, created, expires, last_connection, project`

func scanToken(r pgx.Row) (store.Token, error) {
	var k store.Token
	err := r.Scan(&k.Hash, &k.UserID, &k.Name, &k.Type, &k.Created, &k.Expires, &k.LastConnection, &k.Project)
	k.Created, k.Expires, k.LastConnection = utc(k.Created), utcPtr(k.Expires), utcPtr(k.LastConnection)
	return k, err
}

func (t *tx) PutToken(k store.Token) error {
	t.access = true
	if err := t.unique(`SELECT hash FROM tokens WHERE user_id = $2 AND name = $1`, k.Name, k.Hash,
		fmt.Sprintf("A token named '%s' already exists for this user", k.Name), k.UserID); err != nil {
		return err
	}
	clear(t.memo.tokens) // after the read: it may have brought a read ahead (see ReadAhead)
	return t.exec(`INSERT INTO tokens (`+tokenCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
		ON CONFLICT (hash) DO UPDATE SET user_id=$2, name=$3, type=$4, created=$5, expires=$6, last_connection=$7, project=$8`,
		k.Hash, k.UserID, k.Name, k.Type, k.Created, k.Expires, k.LastConnection, k.Project)
}

func (t *tx) Token(hash string) (store.Token, error) {
	return one(t, scanToken, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash)
}

func (t *tx) TokenByName(userID, name string) (store.Token, error) {
	return one(t, scanToken, `SELECT `+tokenCols+` FROM tokens WHERE user_id = $1 AND name = $2`, userID, name)
}

func (t *tx) DeleteToken(hash string) error {
	t.access = true
	clear(t.memo.tokens)
	return t.execFound(`DELETE FROM tokens WHERE hash = $1`, hash)
}

const tokensOf = `SELECT ` + tokenCols + ` FROM tokens WHERE user_id = $1 ORDER BY name`

func (t *tx) Tokens(userID string) ([]store.Token, error) {
	if list, ok := t.memo.tokens[userID]; ok {
		return slices.Clone(list), nil
	}
	return all(t, scanToken, tokensOf, userID)
}

// --- projects

const projectCols = `id, key, name, private, organization, template, creator, tags, badge_token, created, updated`

func scanProject(r pgx.Row) (store.Project, error) {
	var p store.Project
	err := r.Scan(&p.ID, &p.Key, &p.Name, &p.Private, &p.Organization, &p.Template, &p.Creator, &p.Tags, &p.BadgeToken,
		&p.Created, &p.Updated)
	p.Tags, p.Created, p.Updated = list(p.Tags), utc(p.Created), utc(p.Updated)
	return p, err
}

func (t *tx) Project(id string) (store.Project, error) {
	return one(t, scanProject, `SELECT `+projectCols+` FROM projects WHERE id = $1`, id)
}

func (t *tx) ProjectByKey(key string) (store.Project, error) {
	return one(t, scanProject, `SELECT `+projectCols+` FROM projects WHERE key_fold = $1`, store.FoldLogin(key))
}

func (t *tx) PutProject(p store.Project) error {
	fold := store.FoldLogin(p.Key)
	if err := t.unique(`SELECT id FROM projects WHERE key_fold = $1`, fold, p.ID, fmt.Sprintf("Project key '%s' is already used", p.Key)); err != nil {
		return err
	}
	return t.exec(`INSERT INTO projects (`+projectCols+`, key_fold) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
		ON CONFLICT (id) DO UPDATE SET key=$2, name=$3, private=$4, organization=$5, template=$6, creator=$7, tags=$8,
		badge_token=$9, created=$10, updated=$11, key_fold=$12`,
		p.ID, p.Key, p.Name, p.Private, p.Organization, p.Template, p.Creator, nonNil(p.Tags), p.BadgeToken, p.Created, p.Updated, fold)
}

func (t *tx) DeleteProject(id string) error {
	return t.execFound(`DELETE FROM projects WHERE id = $1`, id)
}

func (t *tx) Projects() iter.Seq2[store.Project, error] {
	return cursor(t, scanProject, `SELECT `+projectCols+` FROM projects ORDER BY key_fold`)
}

// --- templates

const templateCols = `id, name, description, key_pattern, organization, is_default, created, updated`

func scanTemplate(r pgx.Row) (store.Template, error) {
	var p store.Template
	err := r.Scan(&p.ID, &p.Name, &p.Description, &p.KeyPattern, &p.Organization, &p.Default, &p.Created, &p.Updated)
	p.Created, p.Updated = utc(p.Created), utc(p.Updated)
	return p, err
}

func (t *tx) Template(id string) (store.Template, error) {
	return one(t, scanTemplate, `SELECT `+templateCols+` FROM templates WHERE id = $1`, id)
}

func (t *tx) TemplateByName(name string) (store.Template, error) {
	return one(t, scanTemplate, `SELECT `+templateCols+` FROM templates WHERE name_fold = $1`, store.FoldLogin(name))
}

func (t *tx) PutTemplate(p store.Template) error {
	fold := store.FoldLogin(p.Name)
	if err := t.unique(`SELECT id FROM templates WHERE name_fold = $1`, fold, p.ID, fmt.Sprintf("A template with the name '%s' already exists (case insensitive).", p.Name)); err != nil {
		return err
	}
	return t.exec(`INSERT INTO templates (`+templateCols+`, name_fold) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
		ON CONFLICT (id) DO UPDATE SET name=$2, description=$3, key_pattern=$4, organization=$5, is_default=$6,
		created=$7, updated=$8, name_fold=$9`,
		p.ID, p.Name, p.Description, p.KeyPattern, p.Organization, p.Default, p.Created, p.Updated, fold)
}

func (t *tx) DeleteTemplate(id string) error {
	return t.execFound(`DELETE FROM templates WHERE id = $1`, id)
}

func (t *tx) Templates() iter.Seq2[store.Template, error] {
	return cursor(t, scanTemplate, `SELECT `+templateCols+` FROM templates ORDER BY name_fold`)
}

// --- organisations

func scanOrganization(r pgx.Row) (store.Organization, error) {
	var o store.Organization
	err := r.Scan(&o.Key, &o.Name, &o.Description, &o.Created)
	o.Created = utc(o.Created)
	return o, err
}

func (t *tx) Organization(key string) (store.Organization, error) {
	return one(t, scanOrganization, `SELECT key, name, description, created FROM organizations WHERE key = $1`, key)
}

func (t *tx) PutOrganization(o store.Organization) error {
	return t.exec(`INSERT INTO organizations (key, name, description, created) VALUES ($1,$2,$3,$4)
		ON CONFLICT (key) DO UPDATE SET name=$2, description=$3, created=$4`, o.Key, o.Name, o.Description, o.Created)
}

func (t *tx) Organizations() iter.Seq2[store.Organization, error] {
	return cursor(t, scanOrganization, `SELECT key, name, description, created FROM organizations ORDER BY key`)
}

// --- sessions and password failures

func scanSession(r pgx.Row) (store.Session, error) {
	var s store.Session
	err := r.Scan(&s.Hash, &s.UserID, &s.Password, &s.Created, &s.LastSeen)
	s.Created, s.LastSeen = utc(s.Created), utc(s.LastSeen)
	return s, err
}

func (t *tx) Session(hash string) (store.Session, error) {
	return one(t, scanSession, `SELECT hash, user_id, password, created, last_seen FROM sessions WHERE hash = $1`, hash)
}

func (t *tx) PutSession(s store.Session) error {
	return t.exec(`INSERT INTO sessions (hash, user_id, password, created, last_seen) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (hash) DO UPDATE SET user_id=$2, password=$3, created=$4, last_seen=$5`,
		s.Hash, s.UserID, s.Password, s.Created, s.LastSeen)
}

func (t *tx) DeleteSession(hash string) error {
	return t.exec(`DELETE FROM sessions WHERE hash = $1`, hash)
}

func (t *tx) SessionsOf(userID string) ([]store.Session, error) {
	return all(t, scanSession, `SELECT hash, user_id, password, created, last_seen FROM sessions WHERE user_id = $1 ORDER BY hash`, userID)
}

func (t *tx) Failures(login string) (store.Failures, error) {
	if f, ok := t.memo.failures[login]; ok {
		return f, nil
	}
	f, err := one(t, func(r pgx.Row) (store.Failures, error) {
		var f store.Failures
		err := r.Scan(&f.Count, &f.Last)
		f.Last = utc(f.Last)
		return f, err
	}, `SELECT count, last FROM failures WHERE login = $1`, login)
	if store.IsNotFound(err) {
		return store.Failures{}, nil
	}
	return f, err
}

func (t *tx) PutFailures(login string, f store.Failures) error {
	delete(t.memo.failures, login)
	if f.Count == 0 {
		return t.exec(`DELETE FROM failures WHERE login = $1`, login)
	}
	return t.exec(`INSERT INTO failures (login, count, last) VALUES ($1,$2,$3)
		ON CONFLICT (login) DO UPDATE SET count=$2, last=$3`, login, f.Count, f.Last)
}

// --- audit

const auditCols = `seq, time, actor, token, api, op, kind, action, resource, name, before_active, before_managed,
	after_active, after_managed, detail, truncated`

func scanAudit(r pgx.Row) (store.AuditEntry, error) {
	var e store.AuditEntry
	var ba, bm, aa, am *bool
	var seq int64
	err := r.Scan(&seq, &e.Time, &e.Actor, &e.Token, &e.API, &e.Op, &e.Kind, &e.Action, &e.Resource, &e.Name, &ba, &bm, &aa, &am,
		&e.Detail, &e.Truncated)
	e.Seq, e.Time = uint64(seq), utc(e.Time)
	e.Before, e.After = state(ba, bm), state(aa, am)
	return e, err
}

func state(active, managed *bool) *store.State {
	if active == nil || managed == nil {
		return nil
	}
	return &store.State{Active: *active, Managed: *managed}
}

// stateCols splits a state into its two nullable columns.
func stateCols(s *store.State) (active, managed *bool) {
	if s == nil {
		return nil, nil
	}
	return &s.Active, &s.Managed
}

func (t *tx) AppendAudit(e *store.AuditEntry) error {
	ba, bm := stateCols(e.Before)
	aa, am := stateCols(e.After)
	return t.later(stmt{sql: `INSERT INTO audit (time, actor, token, api, op, kind, action, resource, name, before_active, before_managed,
		after_active, after_managed, detail, truncated) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
		RETURNING seq`,
		args: []any{e.Time, e.Actor, e.Token, e.API, e.Op, e.Kind, e.Action, e.Resource, e.Name, ba, bm, aa, am, e.Detail, e.Truncated},
		scan: func(r pgx.Row) error {
			var n int64
			err := r.Scan(&n)
			e.Seq = uint64(n)
			return err
		}})
}

func (t *tx) Audit() iter.Seq2[store.AuditEntry, error] {
	return cursor(t, scanAudit, `SELECT `+auditCols+` FROM audit ORDER BY seq DESC`)
}

func (t *tx) PruneAudit(cutoff time.Time, max int) (int, error) {
	// Oldest first, stopping at the first entry not before cutoff: the
	// trail is in time order.
	type entry struct {
		seq  int64
		time time.Time
	}
	oldest, err := all(t, func(r pgx.Row) (entry, error) {
		var e entry
		err := r.Scan(&e.seq, &e.time)
		return e, err
	}, `SELECT seq, time FROM audit ORDER BY seq LIMIT $1`, max)
	if err != nil {
		return 0, err
	}
	var doomed []int64
	for _, e := range oldest {
		if !e.time.Before(cutoff) {
			break
		}
		doomed = append(doomed, e.seq)
	}
	if len(doomed) == 0 {
		return 0, nil
	}
	return len(doomed), t.exec(`DELETE FROM audit WHERE seq = ANY($1)`, doomed)
}
