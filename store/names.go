package store

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/unicode/norm"
)

// Limits on names, defined once for every API.
const (
	MaxLoginLength = 255 // logins and SCIM userName
	MaxNameLength  = 255 // group names, display names
)

// CleanLogin normalises a login to NFC and refuses what makes two logins
// look alike: control and invisible format characters (zero-width spaces,
// bidirectional marks) and compatibility characters that NFKC would change
// (the long s, full-width letters, ligatures).
func CleanLogin(login string) (string, error) {
	login = norm.NFC.String(login)
	if err := lookAlike("Login", login); err != nil {
		return "", err
	}
	if norm.NFKC.String(login) != login {
		return "", Errorf(EInvalid, "Login '%s' contains compatibility characters; use their plain form '%s'", login, norm.NFKC.String(login))
	}
	return login, nil
}

// CleanGroupName normalises a group name to NFC and refuses the reserved
// name Anyone (any case) and control or invisible format characters.
func CleanGroupName(name string) (string, error) {
	name = norm.NFC.String(name)
	if strings.EqualFold(name, AnyoneGroup) {
		return "", Errorf(EInvalid, "Anyone group cannot be used")
	}
	return name, lookAlike("Group name", name)
}

func lookAlike(what, s string) error {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, invisible) {
		return Errorf(EInvalid, "%s '%s' contains control or invisible characters", what, strings.ToValidUTF8(strings.Map(visible, s), "?"))
	}
	return nil
}

// invisible reports control characters, format characters (Cf: zero-width,
// bidirectional controls) and the other default-ignorable code points.
func invisible(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r) || r == '\u115f' || r == '\u1160' || r == '\u3164' || r == '\uffa0'
}

// visible shows an invisible character as '?' in a message.
func visible(r rune) rune {
	if invisible(r) {
		return '?'
	}
	return r
}

// LoginSkeleton is the confusable skeleton (Unicode TR39) of a login, case
// folded: two logins with the same skeleton look the same to a person.
func LoginSkeleton(login string) string {
	return confusables.Skeleton(strings.ToLower(login))
}

// Confusable reports whether two different logins share a skeleton and at
// least one of them is not plain ASCII: mixed-script look-alikes such as
// Cyrillic "аdmin" beside "admin" are refused, while ASCII pairs such as
// "bob1" and "bobl" (common in real directories) stay allowed.
func Confusable(a, b string) bool {
	if FoldLogin(a) == FoldLogin(b) || isASCII(a) && isASCII(b) {
		return false
	}
	return LoginSkeleton(a) == LoginSkeleton(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
