package scim

import (
	"reflect"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
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
		if !simpleCompare.MatchString(f) {
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
