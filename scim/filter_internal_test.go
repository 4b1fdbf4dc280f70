package scim

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/store"
)

// The fast path for `attr op "value"` (eq, co, sw, ew) must read exactly
// what the parser reads.
func TestSimpleCompareMatchesParser(t *testing.T) {
	t.Parallel()
	for _, f := range []string{
		`userName eq "bjensen"`, `userName EQ "a b"`, `name.familyName eq "O'Malley"`, `externalId eq "00u-1_x"`,
		`displayName eq ""`, `userName eq "quote \" inside"`, `emails.value eq "x@example.com"`, `a-b_c eq "v"`,
		`userName CO "jen"`, `displayName sw "Ada"`, `externalId Ew "-1"`, `userName co "a\\b"`, `emails.value ew "@example.com"`,
	} {
		if _, _, _, _, ok := simpleCompare(f); !ok {
			t.Errorf("%q: not taken by the fast path", f)
		}
		want, err := filter.ParseFilter([]byte(f))
		if err != nil {
			t.Fatalf("parser rejects %q: %v", f, err)
		}
		got, err := parseFilter(f)
		if err != nil {
			t.Fatalf("parseFilter(%q): %v", f, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: fast path %#v, parser %#v", f, got, want)
		}
	}
}

// simpleCompareSpec is simpleCompare's grammar as a regular expression.
var simpleCompareSpec = regexp.MustCompile(`^([A-Za-z][\w-]*)(?:\.([A-Za-z][\w-]*))?\s+(?i:(eq|co|sw|ew))\s+"((?:[^"\\]|\\.)*)"$`)

// simpleCompare reads what its grammar, as a regular expression, reads, on
// filters built from the characters that matter to it (a fixed seed; the
// one difference, an operator spelled with U+017F, which Unicode folds to
// s, is left to the general parser, which refuses it).
func TestSimpleCompareGrammar(t *testing.T) {
	t.Parallel()
	pieces := []string{"a", "Z", "9", "_", "-", ".", " ", "\t", "\n", "\v", "\"", "\\", "eq", "EQ", "cO", "sw", "ew", "ne", "x", "é", "\xff", "ſw"}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(f string) {
		attr, sub, op, value, ok := simpleCompare(f)
		m := simpleCompareSpec.FindStringSubmatch(f)
		if strings.Contains(f, "ſ") && !ok {
			return
		}
		if ok != (m != nil) || ok && (attr != m[1] || sub != m[2] || op != strings.ToLower(m[3]) || value != m[4]) {
			t.Fatalf("%q: simpleCompare %q %q %q %q %v, the grammar %q", f, attr, sub, op, value, ok, m)
		}
	}
	for _, f := range []string{`userName eq "x"`, `a.b  EW  "\""`, `a eq "x\"`, `a eq "x\\"`, "a eq \"x\\\n\"", "a\teq\n\"\n\"", `a. eq "x"`, `a eq"x"`, `a eq "x" `, `1a eq "x"`} {
		check(f)
	}
	for range 200000 {
		var b strings.Builder
		switch rng.IntN(3) {
		case 0: // mostly well-formed
			b.WriteString([]string{"userName", "a-b", "x_1", "e.value", "é"}[rng.IntN(5)])
			b.WriteString([]string{" ", "  ", "\t", "\v", ""}[rng.IntN(5)])
			b.WriteString([]string{"eq", "Co", "SW", "ew", "ne", "ſw"}[rng.IntN(6)])
			b.WriteString([]string{" ", "\n", ""}[rng.IntN(3)])
			b.WriteString(`"`)
			for range rng.IntN(5) {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
			b.WriteString([]string{`"`, `" `, ``, `\"`}[rng.IntN(4)])
		default:
			for range rng.IntN(12) {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		check(b.String())
	}
}

// TestLoginTestKeepsEveryMatch: loginTest, which drops candidates before
// they are rendered, refuses no user whose document matches the filter,
// and does refuse the others where the filter pins userName down.
func TestLoginTestKeepsEveryMatch(t *testing.T) {
	logins := []string{"alice", "Alice.Liddell", "ÄRGER", "İstanbul", "user5", "user55", "quote\"d", `back\slash`, "", "ﬁle"}
	for _, tc := range []struct {
		filter  string
		refuses bool // some login above fails the test
	}{
		{`userName eq "alice"`, true}, {`userName co "LID"`, true}, {`USERNAME sw "al"`, true}, {`userName ew "ER"`, true},
		{`userName co "är"`, true}, {`userName co "i̇st"`, true}, {`userName eq "quote\"d"`, true}, {`userName co "\\"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName co "5"`, true},
		{`active eq true and userName co "er5"`, true}, {`userName co "a" and userName sw "u"`, true},
		{`userName co "a" or userName sw "u"`, false}, {`not (userName co "a")`, false}, {`userName ne "alice"`, false},
		{`userName gt "b"`, false}, {`userName pr`, false}, {`displayName co "a"`, false}, {`emails.value co "a"`, false},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName co "a"`, false},
	} {
		expr, err := parseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		test := loginTest(expr)
		refused := false
		for _, login := range logins {
			doc := map[string]any{"userName": login, "active": true, "displayName": "Ann", "emails": []any{map[string]any{"value": "a@b"}}}
			if test == nil {
				continue
			}
			passes := test(store.User{Login: login})
			if match(expr, doc) && !passes {
				t.Errorf("%s: %q matches but the login test refuses it", tc.filter, login)
			}
			refused = refused || !passes
		}
		if refused != tc.refuses {
			t.Errorf("%s: the login test refuses some login: %v, want %v", tc.filter, refused, tc.refuses)
		}
	}
}

// The active test never refuses a user whose document matches the filter,
// and refuses the users of the other state where the filter pins it down.
func TestActiveTestKeepsEveryMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		filter  string
		refuses string // "", "active" or "inactive": the users refused
	}{
		{`active eq false`, "active"}, {`active eq true`, "inactive"}, {`active eq "False"`, "active"}, {`ACTIVE eq "TRUE"`, "inactive"},
		{`urn:ietf:params:scim:schemas:core:2.0:User:active eq false`, "active"},
		{`userName sw "u" and active eq false`, "active"}, {`active eq true and not (userName eq "x")`, "inactive"},
		{`active eq false or userName eq "u1"`, ""}, {`not (active eq false)`, ""}, {`active ne false`, ""},
		{`active eq "yes"`, ""}, {`active pr`, ""}, {`active eq 1`, ""},
	} {
		expr, err := parseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		test := activeTest(expr)
		refused := ""
		for i, state := range []bool{true, false} {
			u := store.User{Login: fmt.Sprintf("u%d", i), Active: state}
			doc := map[string]any{"userName": u.Login, "active": u.Active}
			if test == nil {
				continue
			}
			if passes := test(u); match(expr, doc) && !passes {
				t.Errorf("%s: a user of active=%v matches but the test refuses it", tc.filter, state)
			} else if !passes {
				refused = map[bool]string{true: "active", false: "inactive"}[state]
			}
		}
		if refused != tc.refuses {
			t.Errorf("%s: the test refuses %q users, want %q", tc.filter, refused, tc.refuses)
		}
	}
}

// The e-mail test never refuses a user whose document matches the filter
// (Unicode, case, escapes, `and`/`or`/`not`, value filters as Entra ID
// sends them), and refuses users where the filter pins an address down;
// nor does the n-gram index miss such a user where the filter's text
// narrows the candidates to it (containsHint), whichever of its addresses
// matched.
func TestEmailTestKeepsEveryMatch(t *testing.T) {
	emails := [][]any{
		{map[string]any{"value": "Ann.Lee@Example.COM", "type": "work", "primary": true}},
		{map[string]any{"value": "bob@example.com", "type": "home"}, map[string]any{"value": "B.Work@corp.example", "type": "work"}},
		{map[string]any{"value": "\u212aELVIN@ÄRGER.de", "type": "work"}}, // the Kelvin sign lower-cases to k
		{map[string]any{"value": "a<b>&c@x.y", "type": "work"}},
		{map[string]any{"value": "quote\"d@x.y"}},
		{map[string]any{"value": "İlker@x.tr"}},
		nil,
	}
	for _, tc := range []struct {
		filter  string
		refuses bool // some user above fails the test
	}{
		{`emails.value eq "ann.lee@example.com"`, true},
		{`emails[type eq "work"].value eq "b.work@corp.example"`, true},
		{`emails[type eq "work" and value co "EXAMPLE"]`, true},
		{`emails.value sw "kel"`, true}, {`emails.value ew "ärger.de"`, true}, {`emails.value co "i̇lker"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:emails.value co "x.y"`, true},
		{`active eq true and emails.value co "example"`, true},
		{`emails.value co "<b>"`, false}, {`emails.value eq "quote\"d@x.y"`, false}, // escaped in JSON: not tested
		{`emails.value co "a" or userName sw "u"`, false}, {`not (emails.value co "a")`, false},
		{`emails.value ne "a"`, false}, {`emails.value pr`, false}, {`emails.type eq "work"`, false},
		{`emails[type eq "work" or value co "x"]`, false},
	} {
		expr, err := parseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		test, grams := emailTest(expr), containsHint("Users", expr)
		if tc.refuses && grams == nil {
			t.Errorf("%s: pins an address down, but the n-gram index is not asked", tc.filter)
		}
		refused := false
		for i, e := range emails {
			attrs := map[string]any{}
			if e != nil {
				attrs["emails"] = e
			}
			raw, err := json.Marshal(attrs)
			if err != nil {
				t.Fatal(err)
			}
			doc := map[string]any{"userName": fmt.Sprintf("u%d", i), "active": true}
			if e != nil {
				doc["emails"] = e
			}
			u := store.User{Login: fmt.Sprintf("u%d", i), SCIM: raw}
			if has := store.UserGrams(u); match(expr, doc) && slices.ContainsFunc(grams, func(g string) bool { return !slices.Contains(has, g) }) {
				t.Errorf("%s: user %d matches but lacks one of the trigrams %q the index is asked for", tc.filter, i, grams)
			}
			if test == nil {
				continue
			}
			passes := test(u)
			if match(expr, doc) && !passes {
				t.Errorf("%s: user %d matches but the e-mail test refuses it", tc.filter, i)
			}
			refused = refused || !passes
		}
		if refused != tc.refuses {
			t.Errorf("%s: the e-mail test refuses some user: %v, want %v", tc.filter, refused, tc.refuses)
		}
	}
}
