package bolt

import (
	"bytes"
	"encoding/binary"
	"iter"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scimgate/scimgate/store"
)

type tx struct {
	tx    *bolt.Tx
	cache [numBuckets]*bolt.Bucket
	def   *string  // id of the default group, once looked up
	grams []gramOp // n-gram index changes not yet written (see flushGrams)
	// cursors serve get in read-only transactions, one per bucket.
	cursors [numBuckets]*bolt.Cursor
	// pended: this transaction listed users as pending for the n-gram
	// index, for the indexer to take up after the commit.
	pended bool
	// access: this transaction changed what resolving a token reads, so
	// the store's generation moves at its commit (see store.Store).
	access bool
}

// tokenHolderChanged notes a change to what resolving a token of userID
// would read: it moves the generation only when userID holds a token.
func (t *tx) tokenHolderChanged(userID string) {
	if !t.access {
		for range suffixes(t.b(bTokensUser), userID) {
			t.access = true
			break
		}
	}
}

// b returns a bucket, opened once per transaction (bbolt does not cache
// buckets of read-only transactions).
func (t *tx) b(id bucket) *bolt.Bucket {
	if t.cache[id] == nil {
		t.cache[id] = t.tx.Bucket(bucketNames[id])
	}
	return t.cache[id]
}

func key(parts ...string) []byte {
	var buf bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			buf.WriteByte(0)
		}
		buf.WriteString(p)
	}
	return buf.Bytes()
}

// get reads k's value in a bucket, as Bucket.Get does. Read-only
// transactions keep one cursor per bucket for it: Bucket.Get opens a new
// cursor whose stack grows by allocation on every lookup, a few
// allocations a read. (A write transaction's cursors would not follow its
// own changes.)
func (t *tx) get(id bucket, k []byte) []byte {
	if t.tx.Writable() {
		return t.b(id).Get(k)
	}
	c := t.cursors[id]
	if c == nil {
		c = t.b(id).Cursor()
		t.cursors[id] = c
	}
	if key, v := c.Seek(k); bytes.Equal(key, k) {
		return v
	}
	return nil
}

// record reads and decodes one record; a missing key is store.ErrNotFound.
func record[T any](t *tx, id bucket, k string, decode func([]byte) (T, error)) (T, error) {
	raw := t.get(id, []byte(k))
	if raw == nil {
		var zero T
		return zero, store.ErrNotFound
	}
	return decode(raw)
}

// suffixes yields the rest of every key that starts with prefix+0.
func suffixes(b *bolt.Bucket, prefix string) iter.Seq[string] {
	return func(yield func(string) bool) {
		p := key(prefix, "")
		c := b.Cursor()
		for k, _ := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
			if !yield(string(k[len(p):])) {
				return
			}
		}
	}
}

func countPrefix(b *bolt.Bucket, prefix string) int {
	n := 0
	for range suffixes(b, prefix) {
		n++
	}
	return n
}

// walk yields a record bucket's records in key order, starting after the
// key given; a record that does not decode ends the walk with its error.
func walk[T any](b *bolt.Bucket, after string, decode func([]byte) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		c := b.Cursor()
		var k, v []byte
		if after == "" {
			k, v = c.First()
		} else {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for ; k != nil; k, v = c.Next() {
			x, err := decode(v)
			if !yield(x, err) || err != nil {
				return
			}
		}
	}
}

// walkIndex yields the records an index bucket (key -> id) points to, in
// key order.
func walkIndex[T any](t *tx, index, primary bucket, decode func([]byte) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		c := t.b(index).Cursor()
		for k, id := c.First(); k != nil; k, id = c.Next() {
			x, err := record(t, primary, string(id), decode)
			if !yield(x, err) || err != nil {
				return
			}
		}
	}
}

// --- users

func (t *tx) User(id string) (store.User, error) { return record(t, bUsers, id, decodeUser) }

func (t *tx) UsersByID(ids []string) ([]store.User, error) {
	out := make([]store.User, 0, len(ids))
	for _, id := range ids {
		u, err := t.User(id)
		if store.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func (t *tx) UserByLogin(login string) (store.User, error) {
	id := t.get(bUserLogin, []byte(store.FoldLogin(login)))
	if id == nil {
		return store.User{}, store.ErrNotFound
	}
	return t.User(string(id))
}

func (t *tx) UsersByExternalID(extID string) ([]store.User, error) {
	var out []store.User
	for id := range suffixes(t.b(bUserExt), extID) {
		u, err := t.User(id)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func (t *tx) PutUser(u store.User) error {
	t.tokenHolderChanged(u.ID)
	users, logins, exts := t.b(bUsers), t.b(bUserLogin), t.b(bUserExt)
	fold := []byte(store.FoldLogin(u.Login))
	if owner := logins.Get(fold); owner != nil && string(owner) != u.ID {
		return store.Errorf(store.EConflict, "A user with login '%s' already exists", u.Login)
	}
	old, err := t.User(u.ID)
	if err == nil && old.Login != u.Login || store.IsNotFound(err) {
		if err := t.reskeleton(old, u); err != nil {
			return err
		}
	}
	if err == nil && store.FoldLogin(old.Name) != store.FoldLogin(u.Name) || store.IsNotFound(err) {
		names := t.b(bUserName)
		if old.ID != "" {
			if err := names.Delete(key(store.FoldLogin(old.Name), u.ID)); err != nil {
				return err
			}
		}
		if err := names.Put(key(store.FoldLogin(u.Name), u.ID), nil); err != nil {
			return err
		}
	}
	if err == nil || store.IsNotFound(err) {
		if err := t.regram(old, u); err != nil {
			return err
		}
	}
	switch {
	case err == nil:
		// Rewrite index entries only when they change: an unchanged key
		// would still dirty its page and cost a write at commit.
		if store.FoldLogin(old.Login) != string(fold) {
			if err := logins.Delete([]byte(store.FoldLogin(old.Login))); err != nil {
				return err
			}
			if err := logins.Put(fold, []byte(u.ID)); err != nil {
				return err
			}
		}
		if old.ExternalID != u.ExternalID {
			if err := t.reindexExt(exts, old.ExternalID, u.ExternalID, u.ID); err != nil {
				return err
			}
		}
		if old.Active != u.Active {
			if err := t.addActive(map[bool]int{true: 1, false: -1}[u.Active]); err != nil {
				return err
			}
		}
		if old.Managed != u.Managed {
			if err := t.addManaged(map[bool]int{true: 1, false: -1}[u.Managed]); err != nil {
				return err
			}
		}
	case store.IsNotFound(err):
		if err := t.addCount(bUsers, 1); err != nil {
			return err
		}
		if u.Active {
			if err := t.addActive(1); err != nil {
				return err
			}
		}
		if u.Managed {
			if err := t.addManaged(1); err != nil {
				return err
			}
		}
		if err := logins.Put(fold, []byte(u.ID)); err != nil {
			return err
		}
		if err := t.reindexExt(exts, "", u.ExternalID, u.ID); err != nil {
			return err
		}
	default:
		return err
	}
	return users.Put([]byte(u.ID), encodeUser(u))
}

// reskeleton moves u's entry in the skeleton index from old's login (empty
// old: a new user) to u's, refusing a login confusable with another's.
func (t *tx) reskeleton(old, u store.User) error {
	b, sk := t.b(bUserSkeleton), store.LoginSkeleton(u.Login)
	for id := range suffixes(b, sk) {
		if id == u.ID {
			continue
		}
		other, err := t.User(id)
		if err != nil {
			return err
		}
		if store.Confusable(u.Login, other.Login) {
			return store.Errorf(store.EConflict, "Login '%s' is confusable with the existing login '%s'", u.Login, other.Login)
		}
	}
	if old.ID != "" {
		if err := b.Delete(key(store.LoginSkeleton(old.Login), u.ID)); err != nil {
			return err
		}
	}
	return b.Put(key(sk, u.ID), nil)
}

// reindexExt moves id's entry in an externalId index from old to new.
func (t *tx) reindexExt(b *bolt.Bucket, old, new, id string) error {
	if old != "" {
		if err := b.Delete(key(old, id)); err != nil {
			return err
		}
	}
	if new == "" {
		return nil
	}
	return b.Put(key(new, id), nil)
}

func (t *tx) Users(after string) iter.Seq2[store.User, error] {
	return walk(t.b(bUsers), after, decodeUser)
}

func (t *tx) UsersByLogin() iter.Seq2[store.User, error] {
	return walkIndex(t, bUserLogin, bUsers, decodeUser)
}

func (t *tx) IDsByPrefix(index store.Index, prefix string) iter.Seq[string] {
	// The login and group name indexes map a key to an id; the others hold
	// key 0 id with no value.
	b, valued := map[store.Index]bucket{store.IndexUserLogin: bUserLogin, store.IndexUserName: bUserName,
		store.IndexUserExternalID: bUserExt, store.IndexGroupName: bGroupName}[index], index == store.IndexUserLogin || index == store.IndexGroupName
	if index != store.IndexUserExternalID {
		prefix = store.FoldLogin(prefix)
	}
	return func(yield func(string) bool) {
		p := []byte(prefix)
		c := t.b(b).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			id := v
			if !valued {
				id = k[bytes.LastIndexByte(k, 0)+1:]
			}
			if !yield(string(id)) {
				return
			}
		}
	}
}

func (t *tx) UsersByName() iter.Seq2[store.User, error] {
	return func(yield func(store.User, error) bool) {
		c := t.b(bUserName).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			i := bytes.LastIndexByte(k, 0)
			u, err := t.User(string(k[i+1:]))
			if !yield(u, err) || err != nil {
				return
			}
		}
	}
}

func (t *tx) CountUsers() (int, error) { return t.count(bUsers), nil }

// count reads the record count kept for a primary bucket.
func (t *tx) count(id bucket) int {
	v := t.get(bCounts, bucketNames[id])
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func (t *tx) addCount(id bucket, delta int) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(t.count(id)+delta))
	return t.b(bCounts).Put(bucketNames[id], v[:])
}

// --- groups

func (t *tx) Group(id string) (store.Group, error) { return record(t, bGroups, id, decodeGroup) }

func (t *tx) GroupByName(name string) (store.Group, error) {
	id := t.get(bGroupName, []byte(store.FoldLogin(name)))
	if id == nil {
		return store.Group{}, store.ErrNotFound
	}
	return t.Group(string(id))
}

func (t *tx) GroupsByExternalID(extID string) ([]store.Group, error) {
	var out []store.Group
	for id := range suffixes(t.b(bGroupExt), extID) {
		g, err := t.Group(id)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

func (t *tx) PutGroup(g store.Group) error {
	t.access = true // the default group is found by name
	groups, names, exts := t.b(bGroups), t.b(bGroupName), t.b(bGroupExt)
	fold := []byte(store.FoldLogin(g.Name))
	if owner := names.Get(fold); owner != nil && string(owner) != g.ID {
		return store.Errorf(store.EConflict, "Group '%s' already exists", g.Name)
	}
	if old, err := t.Group(g.ID); err == nil {
		if err := t.unindexGroup(old); err != nil {
			return err
		}
	} else if err := t.addCount(bGroups, 1); err != nil {
		return err
	}
	if err := names.Put(fold, []byte(g.ID)); err != nil {
		return err
	}
	if g.ExternalID != "" {
		if err := exts.Put(key(g.ExternalID, g.ID), nil); err != nil {
			return err
		}
	}
	return groups.Put([]byte(g.ID), encodeGroup(g))
}

func (t *tx) unindexGroup(g store.Group) error {
	if err := t.b(bGroupName).Delete([]byte(store.FoldLogin(g.Name))); err != nil {
		return err
	}
	if g.ExternalID == "" {
		return nil
	}
	return t.b(bGroupExt).Delete(key(g.ExternalID, g.ID))
}

func (t *tx) DeleteGroup(id string) error {
	t.access = true
	g, err := t.Group(id)
	if err != nil {
		return err
	}
	members := slices.Collect(t.Members(id))
	for _, uid := range members {
		if err := t.RemoveMember(id, uid); err != nil {
			return err
		}
	}
	perms, err := t.Permissions(store.GroupSubject(id))
	if err != nil {
		return err
	}
	for _, p := range perms {
		if err := t.Revoke(store.GroupSubject(id), p); err != nil {
			return err
		}
	}
	if err := t.unindexGroup(g); err != nil {
		return err
	}
	if err := t.addCount(bGroups, -1); err != nil {
		return err
	}
	return t.b(bGroups).Delete([]byte(id))
}

func (t *tx) Groups(after string) iter.Seq2[store.Group, error] {
	return walk(t.b(bGroups), after, decodeGroup)
}

func (t *tx) GroupsByName() iter.Seq2[store.Group, error] {
	return walkIndex(t, bGroupName, bGroups, decodeGroup)
}

func (t *tx) CountGroups() (int, error) { return t.count(bGroups), nil }

// --- memberships

// Memberships are the stored rows only. The default group's members are
// derived by the store (the active users, see ActiveUsers), never stored:
// that saves two random page writes on every create, deactivation and
// reactivation.

// defaultGroup returns the id of the default group ("" if there is none):
// only the migration of old stores needs it.
func (t *tx) defaultGroup() string {
	if t.def == nil {
		id := string(t.get(bGroupName, []byte(store.FoldLogin(store.DefaultGroup))))
		t.def = &id
	}
	return *t.def
}

func (t *tx) ActiveUsers() iter.Seq[string] {
	return func(yield func(string) bool) {
		c := t.b(bUsers).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if ok, err := userActive(v); err == nil && ok && !yield(string(k)) {
				return
			}
		}
	}
}

func (t *tx) CountActiveUsers() (int, error) { return t.activeUsers(), nil }

// activeKey is the counts entry of active users, the default group's size.
var activeKey = []byte("active_users")

func (t *tx) activeUsers() int {
	v := t.get(bCounts, activeKey)
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func (t *tx) addActive(delta int) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(t.activeUsers()+delta))
	return t.b(bCounts).Put(activeKey, v[:])
}

// managedKey is the counts entry of managed (SCIM-provisioned) users.
var managedKey = []byte("managed_users")

func (t *tx) CountManagedUsers() (int, error) {
	v := t.get(bCounts, managedKey)
	if len(v) != 8 {
		return 0, nil
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

func (t *tx) addManaged(delta int) error {
	n, _ := t.CountManagedUsers()
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(n+delta))
	return t.b(bCounts).Put(managedKey, v[:])
}

func (t *tx) AddMember(groupID, userID string) error {
	t.tokenHolderChanged(userID)
	if err := t.b(bMembers).Put(key(groupID, userID), nil); err != nil {
		return err
	}
	return t.b(bMemberOf).Put(key(userID, groupID), nil)
}

func (t *tx) RemoveMember(groupID, userID string) error {
	t.tokenHolderChanged(userID)
	if err := t.b(bMembers).Delete(key(groupID, userID)); err != nil {
		return err
	}
	return t.b(bMemberOf).Delete(key(userID, groupID))
}

func (t *tx) IsMember(groupID, userID string) (bool, error) {
	k, _ := t.b(bMembers).Cursor().Seek(key(groupID, userID))
	return k != nil && bytes.Equal(k, key(groupID, userID)), nil
}

func (t *tx) Members(groupID string) iter.Seq[string] { return suffixes(t.b(bMembers), groupID) }

func (t *tx) CountMembers(groupID string) (int, error) {
	return countPrefix(t.b(bMembers), groupID), nil
}

func (t *tx) GroupsOf(userID string) iter.Seq[string] { return suffixes(t.b(bMemberOf), userID) }

// ReadAhead does nothing: a read costs no round trip here.
func (*tx) ReadAhead(string) {}

func (*tx) ReadAheadPage([]store.User) {}

// --- permissions

func subjectKey(s store.Subject) string { return string(s.Kind) + s.ID }

func (t *tx) Grant(s store.Subject, perm store.PermKey) error {
	t.access = true
	if err := t.b(bPerms).Put(key(subjectKey(s), string(perm)), nil); err != nil {
		return err
	}
	return t.b(bHolders).Put(key(string(perm), subjectKey(s)), nil)
}

func (t *tx) Revoke(s store.Subject, perm store.PermKey) error {
	t.access = true
	if err := t.b(bPerms).Delete(key(subjectKey(s), string(perm))); err != nil {
		return err
	}
	return t.b(bHolders).Delete(key(string(perm), subjectKey(s)))
}

func (t *tx) Permissions(subjects ...store.Subject) ([]store.PermKey, error) {
	var out []store.PermKey
	for _, s := range subjects {
		for k := range suffixes(t.b(bPerms), subjectKey(s)) {
			out = append(out, store.PermKey(k))
		}
	}
	if len(subjects) > 1 {
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out, nil
}

func (t *tx) Holders(perm store.PermKey) iter.Seq[store.Subject] {
	return func(yield func(store.Subject) bool) {
		for rest := range suffixes(t.b(bHolders), string(perm)) {
			if rest != "" && !yield(store.Subject{Kind: rest[0], ID: rest[1:]}) {
				return
			}
		}
	}
}

// --- tokens

func (t *tx) PutToken(tok store.Token) error {
	t.access = true
	if h := t.get(bTokensUser, key(tok.UserID, tok.Name)); h != nil && string(h) != tok.Hash {
		return store.Errorf(store.EConflict, "A token named '%s' already exists for this user", tok.Name)
	}
	if err := t.b(bTokensUser).Put(key(tok.UserID, tok.Name), []byte(tok.Hash)); err != nil {
		return err
	}
	return t.b(bTokens).Put([]byte(tok.Hash), encodeToken(tok))
}

func (t *tx) Token(hash string) (store.Token, error) { return record(t, bTokens, hash, decodeToken) }

func (t *tx) TokenByName(userID, name string) (store.Token, error) {
	h := t.get(bTokensUser, key(userID, name))
	if h == nil {
		return store.Token{}, store.ErrNotFound
	}
	return t.Token(string(h))
}

func (t *tx) DeleteToken(hash string) error {
	t.access = true
	tok, err := t.Token(hash)
	if err != nil {
		return err
	}
	if err := t.b(bTokensUser).Delete(key(tok.UserID, tok.Name)); err != nil {
		return err
	}
	return t.b(bTokens).Delete([]byte(hash))
}

func (t *tx) Tokens(userID string) ([]store.Token, error) {
	var out []store.Token
	for name := range suffixes(t.b(bTokensUser), userID) {
		tok, err := t.TokenByName(userID, name)
		if err != nil {
			return nil, err
		}
		out = append(out, tok)
	}
	return out, nil
}

// --- audit

func (t *tx) AppendAudit(e *store.AuditEntry) error {
	b := t.b(bAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	e.Seq = seq
	raw, err := encodeAudit(*e)
	if err != nil {
		return err
	}
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return b.Put(k[:], raw)
}

func (t *tx) Audit() iter.Seq2[store.AuditEntry, error] {
	return func(yield func(store.AuditEntry, error) bool) {
		c := t.b(bAudit).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			e, err := decodeAudit(v)
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

func (t *tx) PruneAudit(cutoff time.Time, max int) (int, error) {
	c := t.b(bAudit).Cursor()
	n := 0
	for k, v := c.First(); k != nil && n < max; k, v = c.First() {
		e, err := decodeAudit(v)
		if err != nil {
			return n, err
		}
		if !e.Time.Before(cutoff) {
			break
		}
		if err := c.Delete(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// --- sessions and password failures

func (t *tx) Session(hash string) (store.Session, error) {
	return record(t, bSessions, hash, decodeSession)
}

func (t *tx) PutSession(s store.Session) error {
	if err := t.b(bSessionsUser).Put(key(s.UserID, s.Hash), nil); err != nil {
		return err
	}
	return t.b(bSessions).Put([]byte(s.Hash), encodeSession(s))
}

func (t *tx) DeleteSession(hash string) error {
	s, err := t.Session(hash)
	if store.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := t.b(bSessionsUser).Delete(key(s.UserID, hash)); err != nil {
		return err
	}
	return t.b(bSessions).Delete([]byte(hash))
}

func (t *tx) SessionsOf(userID string) ([]store.Session, error) {
	var out []store.Session
	for hash := range suffixes(t.b(bSessionsUser), userID) {
		s, err := t.Session(hash)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (t *tx) Failures(login string) (store.Failures, error) {
	f, err := record(t, bFailures, login, decodeFailures)
	if store.IsNotFound(err) {
		return store.Failures{}, nil
	}
	return f, err
}

func (t *tx) PutFailures(login string, f store.Failures) error {
	if f.Count == 0 {
		return t.b(bFailures).Delete([]byte(login))
	}
	return t.b(bFailures).Put([]byte(login), encodeFailures(f))
}
