package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/scimgate/scimgate/store"
)

// ReadAhead queues the reads the access rules make about a user (see
// store.Tx) to go with the transaction's next statement, so that changing
// a user's access costs one round trip of reads with the user's own: its
// groups, the default group, the permissions of the user, its groups, the
// default group and Anyone, and its tokens. Deactivating a user went from
// six round trips to two. What a read ahead brings is kept in the
// transaction's memo only if no write was issued after it was queued (a
// write queued after it may change what it read); otherwise the rules read
// again when they ask. So a write method that reads before it writes (a
// uniqueness check) must drop its memo entries after that read, which may
// be what brings a read ahead in. The reads take the predicate locks of
// a serializable transaction as the rules' own reads would: a write that
// then does not change access (a renamed user) holds them too. Read-only
// transactions ignore it: they do not change access.
func (t *tx) ReadAhead(userID string) {
	if t.readOnly || t.failed != nil || hasNUL([]any{userID}) {
		return
	}
	_, groups := t.memo.groupsOf[userID]
	_, perms := t.memo.perms[subjectKey(store.UserSubject(userID))]
	if _, tokens := t.memo.tokens[userID]; groups && perms && tokens {
		return // read ahead already, or read
	}
	aheadList(t, t.memo.groupsOf, userID, groupsOfUser, scanString)
	def := store.FoldLogin(store.DefaultGroup)
	if _, ok := t.memo.groupNames[def]; !ok {
		readAhead(t, `SELECT `+groupCols+` FROM groups WHERE name_fold = $1`, []any{def}, scanGroup, func(list []store.Group) {
			if len(list) == 1 {
				g := list[0]
				t.memo.groups[g.ID], t.memo.groupNames[def] = g, g.ID
			}
		})
	}
	// The permissions of the user, Anyone, its groups and the default group.
	readAhead(t, subjectsPerms(`SELECT unnest($1::text[]) AS subject
			UNION SELECT 'g' || group_id FROM members WHERE user_id = $2
			UNION SELECT 'g' || id FROM groups WHERE name_fold = $3`),
		[]any{[]string{subjectKey(store.UserSubject(userID)), subjectKey(store.GroupSubject(store.AnyoneGroup))}, userID, def},
		scanPair, t.keepPerms)
	aheadList(t, t.memo.tokens, userID, tokensOf, scanToken)
}

// readAhead queues sql to go with the transaction's next statement. Its
// rows reach keep only if no write was issued after it was queued (a write
// queued after it may change what it read); otherwise whoever asks reads
// again.
func readAhead[T any](t *tx, sql string, args []any, scan func(pgx.Row) (T, error), keep func([]T)) {
	wrote := t.wrote
	t.queued = append(t.queued, stmt{sql: sql, args: args, rows: func(r pgx.Rows) error {
		list, err := collect(r, scan)
		if err == nil && t.wrote == wrote {
			keep(list)
		}
		return err
	}})
}

// aheadList reads ahead sql, a list of userID's, into memo unless memo
// holds it already.
func aheadList[T any](t *tx, memo map[string][]T, userID, sql string, scan func(pgx.Row) (T, error)) {
	if _, ok := memo[userID]; !ok {
		readAhead(t, sql, []any{userID}, scan, func(list []T) { memo[userID] = list })
	}
}

// readAheadUser queues, for the next statement, the read of a user that a
// change sharing the transaction will touch (store.Touching), and what the
// access rules read about it: changes queued together have all of theirs
// read in the transaction's first round trip. Kept under ReadAhead's rule.
func (t *tx) readAheadUser(id string) {
	if hasNUL([]any{id}) {
		return
	}
	if _, ok := t.memo.users[id]; !ok {
		readAhead(t, `SELECT `+userCols+` FROM users WHERE id = $1`, []any{id}, scanUser, func(list []store.User) {
			if len(list) == 1 {
				t.memo.users[id] = cloneUser(list[0])
			}
		})
	}
	t.ReadAhead(id)
}

// readAheadLogin queues, for the next statement, the check of a login that
// a change sharing the transaction will create (store.Creating): who holds
// it, and the logins of its skeleton (see checkLogin). Kept under
// ReadAhead's rule; PutUser forgets the checks its write may change.
func (t *tx) readAheadLogin(login string) {
	k := loginKey{store.FoldLogin(login), store.LoginSkeleton(login)}
	if _, ok := t.memo.logins[k]; ok || hasNUL([]any{k.fold, k.skeleton}) {
		return
	}
	readAhead(t, loginCheck, []any{k.fold, k.skeleton, ""}, scanPair, func(rows [][2]string) { t.memo.logins[k] = rows })
}

// ReadAheadPage reads the groups, tokens and password failures of the
// users whose ones this transaction has not read yet, in one round trip of
// three statements, into the memo, under ReadAhead's rule: what a write
// issued meanwhile may have changed is read again when asked. A failure
// is the transaction's, as the reads' own would be.
func (t *tx) ReadAheadPage(users []store.User) {
	if t.failed != nil {
		return
	}
	var ids, logins []string
	for _, u := range users {
		_, groups := t.memo.groupsOf[u.ID]
		if _, tokens := t.memo.tokens[u.ID]; (!groups || !tokens) && !hasNUL([]any{u.ID}) {
			ids = append(ids, u.ID)
		}
		if _, ok := t.memo.failures[u.Login]; !ok && !hasNUL([]any{u.Login}) {
			logins = append(logins, u.Login)
		}
	}
	if len(ids) > 0 {
		readAhead(t, `SELECT user_id, group_id FROM members WHERE user_id = ANY($1) ORDER BY user_id, group_id`, []any{ids}, scanPair, func(rows [][2]string) {
			for _, id := range ids {
				t.memo.groupsOf[id] = nil
			}
			for _, r := range rows {
				t.memo.groupsOf[r[0]] = append(t.memo.groupsOf[r[0]], r[1])
			}
		})
		readAhead(t, `SELECT `+tokenCols+` FROM tokens WHERE user_id = ANY($1) ORDER BY user_id, name`, []any{ids}, scanToken, func(list []store.Token) {
			for _, id := range ids {
				t.memo.tokens[id] = nil
			}
			for _, k := range list {
				t.memo.tokens[k.UserID] = append(t.memo.tokens[k.UserID], k)
			}
		})
	}
	if len(logins) > 0 {
		readAhead(t, `SELECT login, count, last FROM failures WHERE login = ANY($1)`, []any{logins}, func(r pgx.Row) (failure, error) {
			var f failure
			err := r.Scan(&f.login, &f.Count, &f.Last)
			f.Last = utc(f.Last)
			return f, err
		}, func(list []failure) {
			for _, l := range logins {
				t.memo.failures[l] = store.Failures{}
			}
			for _, f := range list {
				t.memo.failures[f.login] = f.Failures
			}
		})
	}
	if len(t.queued) == 0 {
		return
	}
	br, err := t.send()
	if err == nil {
		err = br.Close()
	}
	t.note(err)
}

// failure is a login's password failures, as ReadAheadPage reads them.
type failure struct {
	login string
	store.Failures
}
