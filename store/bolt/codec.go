package bolt

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/scimgate/scimgate/store"
)

// Records are stored in a compact binary form: a format version byte, then
// the fields in a fixed order as length-prefixed strings, varints and flags.
// Decoding one is about ten times cheaper than JSON, and every request
// decodes several (token, caller, resource). Each record kind has its own
// format version below.

// userVersion is the format of user records: version 2 appends the locale,
// the password change time and the per-user policy. Version 1 records are
// still read; they are rewritten as version 2 when next saved.
const userVersion = 2

// tokenVersion is the format of token records: version 2 appends the
// project of a project analysis token.
const tokenVersion = 2

// groupVersion is the format of group records: version 2 appends the
// organisation.
const groupVersion = 2

var errCorrupt = errors.New("store record is corrupt or of an unknown format")

type encoder struct{ b []byte }

func (e *encoder) str(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) bytes(b []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(b)))
	e.b = append(e.b, b...)
}
func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) time(t time.Time) {
	e.b = binary.AppendVarint(e.b, t.Unix())
	e.b = binary.AppendUvarint(e.b, uint64(t.Nanosecond()))
}
func (e *encoder) optTime(t *time.Time) {
	e.bool(t != nil)
	if t != nil {
		e.time(*t)
	}
}
func (e *encoder) strs(list []string) {
	e.uint(uint64(len(list)))
	for _, s := range list {
		e.str(s)
	}
}

type decoder struct {
	b       []byte
	err     error
	version byte
}

// newDecoder reads the version byte; formats 1 to latest are accepted.
func newDecoder(b []byte, latest byte) *decoder {
	d := &decoder{b: b}
	if len(b) == 0 || b[0] < 1 || b[0] > latest {
		d.err = errCorrupt
		return d
	}
	d.version, d.b = b[0], b[1:]
	return d
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bounded reads an unsigned varint no larger than max.
func (d *decoder) bounded(max uint64) uint64 {
	v := d.uint()
	if v > max {
		d.err = errCorrupt
		return 0
	}
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) raw() []byte {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.raw()) }

// bytes copies: bbolt's memory is only valid inside the transaction.
func (d *decoder) bytes() []byte {
	r := d.raw()
	if len(r) == 0 {
		return nil
	}
	return append([]byte(nil), r...)
}

func (d *decoder) bool() bool {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}

func (d *decoder) time() time.Time {
	s := d.int()
	ns := d.uint()
	if d.err != nil || ns >= 1e9 {
		d.err = errCorrupt
		return time.Time{}
	}
	t := time.Unix(s, int64(ns)).UTC()
	if t.IsZero() {
		return time.Time{}
	}
	return t
}

func (d *decoder) optTime() *time.Time {
	if !d.bool() {
		return nil
	}
	t := d.time()
	return &t
}

func (d *decoder) strs() []string {
	n := d.uint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	return d.err
}

func encodeUser(u store.User) []byte {
	e := encoder{b: []byte{userVersion}}
	e.str(u.ID)
	e.str(u.Login)
	e.str(u.Name)
	e.str(u.Email)
	e.bool(u.Active)
	e.bool(u.Local)
	e.bool(u.Managed)
	e.str(u.ExternalID)
	e.str(u.ExternalLogin)
	e.str(u.ExternalProvider)
	e.strs(u.SCMAccounts)
	e.str(u.PasswordHash)
	e.bytes(u.SCIM)
	e.time(u.Created)
	e.time(u.Updated)
	e.optTime(u.LastConnection)
	e.uint(u.Version)
	e.str(u.Locale)
	e.time(u.PasswordChanged)
	e.bool(u.Policy.PasswordExpirationDays != nil)
	if d := u.Policy.PasswordExpirationDays; d != nil {
		e.uint(uint64(*d))
	}
	e.uint(uint64(u.Policy.SessionTimeout / time.Second))
	e.strs(u.Policy.TrustedHosts)
	e.bool(u.Policy.LockoutThreshold != nil)
	if n := u.Policy.LockoutThreshold; n != nil {
		e.uint(uint64(*n))
	}
	return e.b
}

func decodeUser(b []byte) (store.User, error) {
	d := newDecoder(b, userVersion)
	u := store.User{ID: d.str(), Login: d.str(), Name: d.str(), Email: d.str(), Active: d.bool(), Local: d.bool(),
		Managed: d.bool(), ExternalID: d.str(), ExternalLogin: d.str(), ExternalProvider: d.str(), SCMAccounts: d.strs(),
		PasswordHash: d.str(), SCIM: d.bytes(), Created: d.time(), Updated: d.time(), LastConnection: d.optTime(), Version: d.uint()}
	if d.version >= 2 {
		u.Locale, u.PasswordChanged = d.str(), d.time()
		if d.bool() {
			days := int(d.bounded(math.MaxInt32))
			u.Policy.PasswordExpirationDays = &days
		}
		u.Policy.SessionTimeout = time.Duration(d.bounded(math.MaxInt64/uint64(time.Second))) * time.Second
		u.Policy.TrustedHosts = d.strs()
		if d.bool() {
			n := int(d.bounded(math.MaxInt32))
			u.Policy.LockoutThreshold = &n
		}
	}
	return u, d.done()
}

// userActive reads only the active flag of a user record (after its id,
// login, name and email), for the default group's derived membership.
func userActive(b []byte) (bool, error) {
	d := newDecoder(b, userVersion)
	for i := 0; i < 4; i++ {
		d.raw()
	}
	active := d.bool()
	return active, d.err
}

func encodeGroup(g store.Group) []byte {
	e := encoder{b: []byte{groupVersion}}
	e.str(g.ID)
	e.str(g.Name)
	e.str(g.Description)
	e.str(g.ExternalID)
	e.bool(g.Managed)
	e.time(g.Created)
	e.time(g.Updated)
	e.uint(g.Version)
	e.str(g.Organization)
	return e.b
}

func decodeGroup(b []byte) (store.Group, error) {
	d := newDecoder(b, groupVersion)
	g := store.Group{ID: d.str(), Name: d.str(), Description: d.str(), ExternalID: d.str(), Managed: d.bool(),
		Created: d.time(), Updated: d.time(), Version: d.uint()}
	if d.version >= 2 {
		g.Organization = d.str()
	}
	return g, d.done()
}

func encodeToken(t store.Token) []byte {
	e := encoder{b: []byte{tokenVersion}}
	e.str(t.Hash)
	e.str(t.UserID)
	e.str(t.Name)
	e.str(t.Type)
	e.time(t.Created)
	e.optTime(t.Expires)
	e.optTime(t.LastConnection)
	e.str(t.Project)
	return e.b
}

func decodeToken(b []byte) (store.Token, error) {
	d := newDecoder(b, tokenVersion)
	t := store.Token{Hash: d.str(), UserID: d.str(), Name: d.str(), Type: d.str(), Created: d.time(),
		Expires: d.optTime(), LastConnection: d.optTime()}
	if d.version >= 2 {
		t.Project = d.str()
	}
	return t, d.done()
}

// sessionVersion is the format of session records.
const sessionVersion = 1

func encodeSession(s store.Session) []byte {
	e := encoder{b: []byte{sessionVersion}}
	e.str(s.Hash)
	e.str(s.UserID)
	e.str(s.Password)
	e.time(s.Created)
	e.time(s.LastSeen)
	return e.b
}

func decodeSession(b []byte) (store.Session, error) {
	d := newDecoder(b, sessionVersion)
	s := store.Session{Hash: d.str(), UserID: d.str(), Password: d.str(), Created: d.time(), LastSeen: d.time()}
	return s, d.done()
}

// failuresVersion is the format of password failure counts.
const failuresVersion = 1

func encodeFailures(f store.Failures) []byte {
	e := encoder{b: []byte{failuresVersion}}
	e.uint(uint64(f.Count))
	e.time(f.Last)
	return e.b
}

func decodeFailures(b []byte) (store.Failures, error) {
	d := newDecoder(b, failuresVersion)
	f := store.Failures{Count: int(d.bounded(1 << 20)), Last: d.time()}
	return f, d.done()
}
