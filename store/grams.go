package store

import (
	"iter"
	"slices"
	"strings"
	"unicode/utf8"
)

// The n-gram index answers "contains" searches (the Web API's q, the
// console's search box, SCIM co) without reading every user. It maps each
// trigram (three runes) of a user's lower-cased login, display name and
// e-mail to the user; a text of three runes or more can only be contained in
// a field that has all of the text's trigrams, so the users holding all of
// them are a superset of the matches, which callers narrow with their own
// rule (User.Matches, a SCIM filter). Shorter texts have no trigram: they
// are answered by reading every user.
//
// Lower-casing is strings.ToLower, as User.Matches and SCIM's
// case-insensitive comparisons use, so that both sides of a comparison
// yield the same runes (invalid UTF-8 becomes U+FFFD on both).

// gramRunes is the length of an n-gram in runes.
const gramRunes = 3

// grams appends to set the trigrams of lower-cased s.
func grams(set []string, s string) []string {
	s = strings.ToLower(s)
	var starts []int // byte offset of each rune
	for i := range s {
		starts = append(starts, i)
	}
	starts = append(starts, len(s))
	for j := 0; j+gramRunes < len(starts); j++ {
		set = append(set, s[starts[j]:starts[j+gramRunes]])
	}
	return set
}

// UserGrams returns the distinct trigrams under which the n-gram index
// keeps u: those of its lower-cased login, display name and e-mail, sorted.
func UserGrams(u User) []string {
	set := grams(grams(grams(make([]string, 0, 48), u.Login), u.Name), u.Email)
	slices.Sort(set)
	return slices.Compact(set)
}

// QueryGrams returns the distinct trigrams of lower-cased text, which a
// user's fields must all hold to contain text (see Tx.IDsWithGrams), or nil
// when text is shorter than three runes and the index cannot narrow it.
func QueryGrams(text string) []string {
	if utf8.RuneCountInString(text) < gramRunes {
		return nil
	}
	set := grams(nil, text)
	slices.Sort(set)
	return slices.Compact(set)
}

// UsersByLoginContaining yields, in lower-cased login order (as
// Tx.UsersByLogin), the users whose login, display name or e-mail may
// contain q: when q has three runes or more only the n-gram index's
// candidates, else every user. Callers still apply their rule to each.
func UsersByLoginContaining(tx Tx, q string) iter.Seq2[User, error] {
	gs := QueryGrams(q)
	if gs == nil {
		return tx.UsersByLogin()
	}
	return byLogin(tx, tx.IDsWithGrams(gs))
}

// byLogin yields the users of ids in lower-cased login order (as
// Tx.UsersByLogin). Only their logins are held to sort them; the records
// are read again as they are yielded.
func byLogin(tx Tx, ids iter.Seq[string]) iter.Seq2[User, error] {
	return func(yield func(User, error) bool) {
		type entry struct{ login, id string }
		var es []entry
		for u, err := range ReadUsers(tx, ids) {
			if err != nil {
				yield(User{}, err)
				return
			}
			es = append(es, entry{FoldLogin(u.Login), u.ID})
		}
		slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.login, b.login) })
		sorted := make([]string, len(es))
		for i, e := range es {
			sorted[i] = e.id
		}
		for u, err := range ReadUsers(tx, slices.Values(sorted)) {
			if !yield(u, err) || err != nil {
				return
			}
		}
	}
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
