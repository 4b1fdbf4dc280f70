package store

import (
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
