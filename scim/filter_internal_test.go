package scim

import (
	"reflect"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

// The fast path for `attr eq "value"` must read exactly what the parser reads.
func TestSimpleEqMatchesParser(t *testing.T) {
	t.Parallel()
	for _, f := range []string{
		`userName eq "bjensen"`, `userName EQ "a b"`, `name.familyName eq "O'Malley"`, `externalId eq "00u-1_x"`,
		`displayName eq ""`, `userName eq "quote \" inside"`, `emails.value eq "x@example.com"`, `a-b_c eq "v"`,
	} {
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
