package store

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQueryGrams(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"ab", nil},
		{"äö", nil},
		{"abc", []string{"abc"}},
		{"ABCD", []string{"abc", "bcd"}},
		{"abcabc", []string{"abc", "bca", "cab"}},
		{"Äöüß", []string{"äöü", "öüß"}},
		{"a\xffb", []string{"a\uFFFDb"}}, // invalid UTF-8 lowers to U+FFFD, as strings.ToLower does
	} {
		if got := QueryGrams(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("QueryGrams(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	u := User{Login: "bob", Name: "Bo", Email: "bob@x.io"}
	if got, want := UserGrams(u), []string{"@x.", "b@x", "bob", "ob@", "x.i", ".io"}; !slices.Equal(got, sorted(want)) {
		t.Errorf("UserGrams(%+v) = %q, want %q", u, got, sorted(want))
	}
	if got := UserGrams(User{Login: "ab"}); got == nil || len(got) != 0 {
		t.Errorf("UserGrams of short fields = %#v, want an empty, non-nil list", got)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

// FuzzGrams: the trigrams of any text contained in a field, as User.Matches
// compares them (both lower-cased), are among the user's trigrams, so the
// n-gram index never misses a match.
func FuzzGrams(f *testing.F) {
	for _, seed := range []string{"alice", "Jörg Ärger", "İstanbul", "ΣΊΣΥΦΟΣ", "a\xffbc\x00d", "ǅungla", "KELVIN K"} {
		f.Add(seed, 0, 3)
	}
	f.Fuzz(func(t *testing.T, field string, from, n int) {
		lower := []rune(strings.ToLower(field))
		if from < 0 || n < 0 || from > len(lower) || n > len(lower)-from {
			return
		}
		q := string(lower[from : from+n])
		if got, want := containsLower(field, field[:len(field)/2]), strings.Contains(strings.ToLower(field), field[:len(field)/2]); got != want {
			t.Fatalf("containsLower(%q, %q) = %v, strings says %v", field, field[:len(field)/2], got, want)
		}
		u := User{Name: field}
		if !u.Matches(q, false) {
			t.Fatalf("%q does not contain its own part %q", field, q)
		}
		has := UserGrams(u)
		for _, g := range QueryGrams(q) {
			if !slices.Contains(has, g) {
				t.Fatalf("%q contains %q, whose trigram %q is not among its own %q", field, q, g, has)
			}
		}
		if utf8.RuneCountInString(q) >= 3 && QueryGrams(q) == nil {
			t.Fatalf("QueryGrams(%q) = nil for three runes or more", q)
		}
	})
}

// containsLower answers as strings.Contains over strings.ToLower does.
func TestContainsLower(t *testing.T) {
	for _, tc := range []struct{ s, q string }{
		{"Alice Liddell", "lid"}, {"Alice Liddell", "Lid"}, {"ALICE", "alice"}, {"ALICE", ""}, {"", ""}, {"", "a"},
		{"ab", "abc"}, {"Jörg", "jö"}, {"JÖRG", "jö"}, {"a\\xffB", "b"}, {"[Z]", "[z]"}, {"@", "`"},
	} {
		if got, want := containsLower(tc.s, tc.q), strings.Contains(strings.ToLower(tc.s), tc.q); got != want {
			t.Errorf("containsLower(%q, %q) = %v, want %v", tc.s, tc.q, got, want)
		}
	}
}

// IndexedTexts holds login, name and e-mail, then every address a SCIM
// filter can compare as emails.value, whatever the case of the keys.
func TestIndexedTexts(t *testing.T) {
	for _, tc := range []struct {
		scim string
		want []string // after login, name and e-mail
	}{
		{``, nil},
		{`{}`, nil},
		{`not json`, nil},
		{`{"name":{"givenName":"A"}}`, nil},
		{`{"emails":[{"value":"a@x.io","primary":true}]}`, nil}, // the e-mail itself
		{`{"emails":[{"value":"a@x.io"},{"value":"b@y.io","type":"home"}]}`, []string{"b@y.io"}},
		{`{"Emails":[{"VALUE":"B@Y.io"}]}`, []string{"B@Y.io"}},
		{`{"emails":{"value":"c@z.io"}}`, []string{"c@z.io"}},
		{`{"emails":["d@z.io",{"value":"e@z.io"},7,{"value":7},{"value":true}]}`, []string{"e@z.io", "true"}},
		{`{"emails":[{"value":"f@z.io"}],"EMAILS":[{"value":"g@z.io"}]}`, []string{"f@z.io", "g@z.io"}},
		{`{"phoneNumbers":[{"value":"h@z.io"}],"emails":"i@z.io"}`, nil},
	} {
		u := User{Login: "a", Name: "A", Email: "a@x.io", SCIM: []byte(tc.scim)}
		want := append([]string{"a", "A", "a@x.io"}, tc.want...)
		if got := IndexedTexts(u); !slices.Equal(got, want) {
			t.Errorf("IndexedTexts(%s) = %q, want %q", tc.scim, got, want)
		}
		if !SameIndexedTexts(u, u) {
			t.Errorf("SameIndexedTexts(%s) of itself is false", tc.scim)
		}
	}
	a := User{Login: "a", SCIM: []byte(`{"emails":[{"value":"b@y.io"}]}`)}
	b := User{Login: "a", SCIM: []byte(`{"emails":[{"value":"c@y.io"}]}`)}
	c := User{Login: "a", SCIM: []byte(`{"emails":[{"value":"b@y.io","type":"home"}],"title":"x"}`)}
	if SameIndexedTexts(a, b) || !SameIndexedTexts(a, c) {
		t.Errorf("SameIndexedTexts: other address %v, same address in other attributes %v; want false, true", SameIndexedTexts(a, b), SameIndexedTexts(a, c))
	}
}
