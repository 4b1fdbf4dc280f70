package store

import (
	"iter"
	"slices"
	"strings"
)

// A Listing is the users a list reads before applying its own rule, in
// lower-cased login order (as Tx.UsersByLogin orders them): every user, or
// a set of users (the n-gram index's candidates, a group's members) that
// the listing sorts by login itself; of any state, or only the active or
// only the deactivated ones.
type Listing struct {
	tx    Tx
	users iter.Seq2[User, error] // the set, read; nil: every user, read in login order
	state int                    // users of any state (0), active only (1), deactivated only (-1)
}

// UsersContaining lists the users whose login, display name or e-mail may
// contain q: when q has three runes or more only the n-gram index's
// candidates, else every user. Callers still apply their rule to each.
func UsersContaining(tx Tx, q string) Listing {
	gs := QueryGrams(q)
	if gs == nil {
		return Listing{tx: tx}
	}
	return Listing{tx: tx, users: tx.UsersWithGrams(gs)}
}

// GroupMembers lists a group's members, reading only the members: a page
// of a group's members costs the group's size, not the store's. The
// default group's members are every active user.
func GroupMembers(tx Tx, groupID string) Listing {
	if isDefaultGroup(tx, groupID) {
		return Listing{tx: tx, state: 1}
	}
	return UsersWithIDs(tx, tx.Members(groupID))
}

// UsersWithIDs lists the users of ids (those that exist).
func UsersWithIDs(tx Tx, ids iter.Seq[string]) Listing {
	return Listing{tx: tx, users: ReadUsers(tx, ids)}
}

// Holding lists the users that hold key themselves (not through a group):
// an organisation's members are the holders of MemberOf.
func Holding(tx Tx, key PermKey) Listing {
	return UsersWithIDs(tx, func(yield func(string) bool) {
		for s := range tx.Holders(key) {
			if s.IsUser() && !yield(s.ID) {
				return
			}
		}
	})
}

// Active narrows l to its active users (active) or its deactivated ones. A
// listing of every user stays one whose size is counted, not read, so that
// its unfiltered pages cost the page.
func (l Listing) Active(active bool) Listing {
	want := -1
	if active {
		want = 1
	}
	if l.state == -want {
		return Listing{tx: l.tx, users: func(func(User, error) bool) {}} // none
	}
	l.state = want
	return l
}

// inState reports whether u is in the state l lists.
func (l Listing) inState(u User) bool { return l.state == 0 || u.Active == (l.state > 0) }

// ordered yields every user l admits in login order (l.users is nil).
func (l Listing) ordered(yield func(User, error) bool) {
	for u, err := range l.tx.UsersByLogin() {
		if err == nil && !l.inState(u) {
			continue
		}
		if !yield(u, err) || err != nil {
			return
		}
	}
}

// count counts the users l admits (l.users is nil) without reading them.
func (l Listing) count() (int, error) {
	switch l.state {
	case 1:
		return l.tx.CountActiveUsers()
	case -1:
		all, err := l.tx.CountUsers()
		if err != nil {
			return 0, err
		}
		active, err := l.tx.CountActiveUsers()
		return all - active, err
	}
	return l.tx.CountUsers()
}

// All yields the listed users in login order. For a set of ids only their
// logins are held to sort them; the records are read again as they are
// yielded.
func (l Listing) All() iter.Seq2[User, error] {
	if l.users == nil {
		return l.ordered
	}
	return func(yield func(User, error) bool) {
		ids, err := l.sorted(nil)
		if err != nil {
			yield(User{}, err)
			return
		}
		for u, err := range ReadUsers(l.tx, slices.Values(ids)) {
			if !yield(u, err) || err != nil {
				return
			}
		}
	}
}

// Page returns the users keep admits (nil keep admits all), in login order,
// from the offset-th of them, at most size, and how many keep admits in
// all. Each listed user is read once and only the page's users a second
// time, so a page of a large listing costs one read of it, not two; a page
// of every user (active, deactivated or both: the default group's members
// are the active users) without keep reads only as far as the page, and
// counts the rest.
func (l Listing) Page(keep func(User) (bool, error), offset, size int) (page []User, total int, err error) {
	if l.users == nil {
		if keep == nil { // counted, then read only as far as the page
			if total, err = l.count(); err != nil || offset >= total || size <= 0 {
				return nil, total, err
			}
		}
		n := 0 // users admitted so far
		for u, err := range l.ordered {
			if err != nil {
				return nil, 0, err
			}
			ok, err := l.keeps(keep, u)
			if err != nil {
				return nil, 0, err
			}
			if !ok {
				continue
			}
			if n >= offset && n-offset < size {
				page = append(page, u)
			}
			if n++; keep == nil && n >= offset+size {
				break
			}
		}
		if keep != nil {
			total = n
		}
		return page, total, nil
	}
	ids, err := l.sorted(keep)
	if err != nil {
		return nil, 0, err
	}
	total = len(ids)
	if offset >= total || size <= 0 {
		return nil, total, nil
	}
	ids = ids[offset:min(total, offset+size)]
	for u, err := range ReadUsers(l.tx, slices.Values(ids)) {
		if err != nil {
			return nil, 0, err
		}
		page = append(page, u)
	}
	return page, total, nil
}

// sorted reads the listed users and returns the ids of those keep
// admits (nil keep admits all) in login order, holding only their logins.
func (l Listing) sorted(keep func(User) (bool, error)) ([]string, error) {
	type entry struct{ login, id string }
	var es []entry
	for u, err := range l.users {
		if err != nil {
			return nil, err
		}
		ok, err := l.keeps(keep, u)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		es = append(es, entry{FoldLogin(u.Login), u.ID})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.login, b.login) })
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.id
	}
	return ids, nil
}

// keeps reports whether u is in l's state and keep admits it (nil keep
// admits every user).
func (l Listing) keeps(keep func(User) (bool, error), u User) (bool, error) {
	switch {
	case !l.inState(u):
		return false, nil
	case keep == nil:
		return true, nil
	}
	return keep(u)
}

// readChunk is how many users ReadUsers reads at once.
const readChunk = 256

// ReadUsers yields the users of ids in their order, leaving out the ids
// that name none, reading them readChunk at a time (Tx.UsersByID): one
// round trip a chunk where a backend pays one a read.
func ReadUsers(tx Tx, ids iter.Seq[string]) iter.Seq2[User, error] {
	return func(yield func(User, error) bool) {
		chunk := make([]string, 0, readChunk)
		flush := func() bool {
			us, err := tx.UsersByID(chunk)
			chunk = chunk[:0]
			if err != nil {
				yield(User{}, err)
				return false
			}
			for _, u := range us {
				if !yield(u, nil) {
					return false
				}
			}
			return true
		}
		for id := range ids {
			if chunk = append(chunk, id); len(chunk) == readChunk && !flush() {
				return
			}
		}
		if len(chunk) > 0 {
			flush()
		}
	}
}
