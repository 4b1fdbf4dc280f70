package store

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The n-gram index answers "contains" searches (the Web API's q, the
// console's search box, SCIM co) without reading every user. It maps each
// trigram (three runes) of a user's lower-cased login, display name,
// e-mail and the other addresses of its SCIM emails (IndexedTexts) to the
// user; a text of three runes or more can only be contained in
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
// keeps u: those of its IndexedTexts, lower-cased, sorted.
func UserGrams(u User) []string { return Grams(IndexedTexts(u)) }

// Grams returns the distinct trigrams of the lower-cased texts, sorted;
// an empty, non-nil list when they have none.
func Grams(texts []string) []string {
	set := make([]string, 0, 48)
	for _, s := range texts {
		set = grams(set, s)
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// IndexedTexts returns the texts of u the n-gram index holds the trigrams
// of: its login, display name and e-mail, then every other e-mail address
// of its SCIM attributes (see scimEmails), so that SCIM filters on
// emails.value (Entra ID matches users by `emails[type eq "work"].value
// eq`) are answered from the index whichever address they name.
func IndexedTexts(u User) []string {
	texts := []string{u.Login, u.Name, u.Email}
	for _, e := range scimEmails(u.SCIM) {
		if !slices.Contains(texts, e) {
			texts = append(texts, e)
		}
	}
	return texts
}

// SameIndexedTexts reports whether a and b have the same IndexedTexts,
// without reading their SCIM attributes when those are the same bytes.
func SameIndexedTexts(a, b User) bool {
	if a.Login != b.Login || a.Name != b.Name || a.Email != b.Email {
		return false
	}
	return bytes.Equal(a.SCIM, b.SCIM) || slices.Equal(IndexedTexts(a), IndexedTexts(b))
}

// scimEmails returns what a SCIM filter can compare as emails.value in the
// attributes raw (a JSON object; anything else has none): under every
// top-level key that is "emails" in any case, the strings and booleans
// (compared as "true" and "false") under every key that is "value" in any
// case of each object, in the list or alone. A superset of what the SCIM
// adapter's filters read, which take one of such keys.
func scimEmails(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var attrs map[string]json.RawMessage
	if json.Unmarshal(raw, &attrs) != nil {
		return nil
	}
	var out []string
	for k, v := range attrs {
		if !strings.EqualFold(k, "emails") {
			continue
		}
		var emails any
		if json.Unmarshal(v, &emails) != nil {
			continue
		}
		list, ok := emails.([]any)
		if !ok {
			list = []any{emails}
		}
		for _, e := range list {
			m, _ := e.(map[string]any)
			for sub, x := range m {
				if !strings.EqualFold(sub, "value") {
					continue
				}
				switch x := x.(type) {
				case string:
					out = append(out, x)
				case bool:
					out = append(out, strconv.FormatBool(x))
				}
			}
		}
	}
	slices.Sort(out)
	return out
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
