package store

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"

	"golang.org/x/crypto/bcrypt"
)

// Token types, as SonarQube names them.
const (
	TokenUser = "USER_TOKEN"
)

// NewTokenSecret returns a fresh user token: "squ_" and 40 hex characters
// (160 random bits), SonarQube's format.
func NewTokenSecret() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "squ_" + hex.EncodeToString(b[:])
}

// HashToken returns the stored form of a token secret: hex SHA-384.
func HashToken(secret string) string {
	sum := sha512.Sum384([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// PasswordCost is the bcrypt cost of new password hashes. Tests lower it.
var PasswordCost = bcrypt.DefaultCost

// HashPassword returns a bcrypt hash of password.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		// bcrypt reads 72 bytes; pre-hash longer secrets so none is truncated.
		sum := sha512.Sum384([]byte(password))
		password = hex.EncodeToString(sum[:])[:72]
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	return string(h), err
}

// dummyHash is compared against when a login is unknown, so that a wrong
// login takes as long as a wrong password.
var dummyHash, _ = HashPassword("scimgate-timing-equaliser")

// CheckPassword reports whether password matches hash (empty hash: never).
func CheckPassword(hash, password string) bool {
	if len(password) > 72 {
		sum := sha512.Sum384([]byte(password))
		password = hex.EncodeToString(sum[:])[:72]
	}
	if hash == "" {
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// SameHash compares two token hashes in constant time.
func SameHash(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// RandomPassword returns a random password of at least n (and at least 20)
// characters that meets the password policy for the login "admin".
func RandomPassword(n int) string {
	n = max(n, 20)
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.!"
	p := Policy{PasswordMinLength: n}
	b := make([]byte, n)
	for {
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		for i, c := range b {
			b[i] = alphabet[int(c)%len(alphabet)]
		}
		if pw := string(b); len(p.PasswordErrors("admin", pw)) == 0 {
			return pw
		}
	}
}

// NewSessionSecret returns a fresh session secret (256 random bits).
func NewSessionSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
