package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"iter"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scimgate/scimgate/store"
)

// The n-gram index (store.UserGrams) is the bucket users_gram, one key per
// trigram and user: the trigram's bytes followed by the user's id in 16
// bytes (see gramID).
//
// A user's trigrams are a score of keys scattered over the index, so
// writing them with the user would make every create touch a score of
// pages. Like PostgreSQL's GIN "fast update", a write instead lists the
// user in users_gram_pending (one key, in the same transaction, with the
// fields the index still holds for the user), and an indexer moves pending
// users into the index in ordered batches, where they share pages. Queries
// read both: the index for users not pending, and each pending user's
// current record. At every commit the two together answer exactly.

// indexBatch is how many pending users one indexer transaction takes. It
// joins a group commit and delays it, by about 20 us a user, while larger
// batches share more pages. Measured with wrk, 64 clients creating users
// over 100k users, the same build with other sizes served in turn: since
// the group commit takes every queued writer (commit.go), 128 a batch
// gave 4.5-5.0k creates/s with p99 28-35 ms, 512 4.6-5.1k/s with p99
// 43-49 ms, 64 and 32 p99 24-32 ms but 4.1-4.5k/s in the runs against
// 512 (under bbolt's timed batches, 256 gave 5.9k/s and 1024 7.6k/s, in
// a faster phase of the machine). The indexer runs batches back to back
// until nothing is pending.
const indexBatch = 128

// indexDelay is how long the indexer lets pending users gather after a
// write before it takes them up: more users a batch share more pages,
// while every query reads each pending user's record, so the list stays
// short (at 8k creates a second, 50 ms gathers about 400).
const indexDelay = 50 * time.Millisecond

// gramID encodes id for an index key: a UUID as NewID writes it (lower-case
// hex) in its 16 bytes, which keeps the order of the text; any other id,
// and the rare UUID whose first byte is 0xff, as 0xff and then its text,
// after every UUID. 0xff never begins the others' bytes.
func gramID(id string) []byte {
	var b [16]byte
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return append([]byte{0xff}, id...)
	}
	hexits := id[0:8] + id[9:13] + id[14:18] + id[19:23] + id[24:]
	for _, c := range []byte(hexits) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return append([]byte{0xff}, id...)
		}
	}
	if _, err := hex.Decode(b[:], []byte(hexits)); err != nil || b[0] == 0xff {
		return append([]byte{0xff}, id...)
	}
	return b[:]
}

// gramIDString decodes the id part of an index key (see gramID).
func gramIDString(b []byte) string {
	if len(b) > 0 && b[0] == 0xff {
		return string(b[1:])
	}
	h := hex.EncodeToString(b)
	if len(h) != 32 {
		return h // not written by gramID
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// gramOp is one change of the n-gram index: put or delete key.
type gramOp struct {
	key []byte
	put bool
}

// moveGrams queues the move of id's index entries from the trigrams was to
// now (both sorted), for the trigrams that differ.
func (t *tx) moveGrams(id string, was, now []string) {
	enc := gramID(id)
	for _, g := range was {
		if _, kept := slices.BinarySearch(now, g); !kept {
			t.grams = append(t.grams, gramOp{key: append([]byte(g), enc...)})
		}
	}
	for _, g := range now {
		if _, had := slices.BinarySearch(was, g); !had {
			t.grams = append(t.grams, gramOp{key: append([]byte(g), enc...), put: true})
		}
	}
}

// flushGrams writes the queued index changes in key order: bbolt splits
// nodes only at commit, so unordered inserts into the nodes of a large
// transaction shift ever longer arrays, while ordered ones append. Changes
// of one key keep their order.
func (t *tx) flushGrams() error {
	slices.SortStableFunc(t.grams, func(a, b gramOp) int { return bytes.Compare(a.key, b.key) })
	b := t.b(bUserGram)
	// New users' ids are the greatest yet (time-ordered), so their entries
	// append at the end of each trigram's run: pages split nearly full
	// stay so, instead of bbolt's default half.
	b.FillPercent = 0.9
	for _, op := range t.grams {
		var err error
		if op.put {
			err = b.Put(op.key, nil)
		} else {
			err = b.Delete(op.key)
		}
		if err != nil {
			return err
		}
	}
	t.grams = t.grams[:0]
	return nil
}

// regram lists u as pending when the texts the index holds of it differ
// from old's (zero old: a new user). A user already pending keeps the
// texts listed first: those are what the index holds.
func (t *tx) regram(old, u store.User) error {
	if old.ID != "" && store.SameIndexedTexts(old, u) {
		return nil
	}
	p := t.b(bGramPending)
	if p.Get([]byte(u.ID)) != nil {
		return nil
	}
	t.pended = true
	return p.Put([]byte(u.ID), encodeIndexed(store.IndexedTexts(old)))
}

// encodeIndexed records the texts of a user the index holds trigrams of
// (store.IndexedTexts): a version byte, then each text after its length.
// Version 1 held exactly login, name and e-mail; version 2 any number.
func encodeIndexed(texts []string) []byte {
	b := []byte{2}
	for _, f := range texts {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

var errIndexed = errors.New("bolt: corrupt pending n-gram record")

// decodeIndexed is the inverse of encodeIndexed.
func decodeIndexed(b []byte) ([]string, error) {
	if len(b) == 0 || b[0] != 1 && b[0] != 2 {
		return nil, errIndexed
	}
	version := b[0]
	var texts []string
	for b = b[1:]; len(b) > 0; {
		n, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < n {
			return nil, errIndexed
		}
		texts, b = append(texts, string(b[w:w+int(n)])), b[w+int(n):]
	}
	if version == 1 && len(texts) != 3 {
		return nil, errIndexed
	}
	return texts, nil
}

// indexPending moves up to max pending users into the index, and reports
// whether some are left.
func (t *tx) indexPending(max int) (left bool, err error) {
	p := t.b(bGramPending)
	var done [][]byte
	c := p.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(done) == max {
			left = true
			break
		}
		was, err := decodeIndexed(v)
		if err != nil {
			return false, err
		}
		id := string(k)
		u, err := t.User(id)
		switch {
		case store.IsNotFound(err): // gone: its entries only leave
		case err != nil:
			return false, err
		}
		t.moveGrams(id, store.Grams(was), store.UserGrams(u))
		done = append(done, k)
	}
	if err := t.flushGrams(); err != nil {
		return false, err
	}
	for _, k := range done {
		if err := p.Delete(k); err != nil {
			return false, err
		}
	}
	return left, nil
}

// IndexGrams moves every pending user into the n-gram index, in batches
// that join the group commits of other writers; the indexer calls it a
// moment after writes, tests to reach a known state.
func (s *Store) IndexGrams() error {
	left := false
	if err := s.db.View(func(btx *bolt.Tx) error {
		k, _ := btx.Bucket(bucketNames[bGramPending]).Cursor().First()
		left = k != nil
		return nil
	}); err != nil {
		return err
	}
	for left {
		err := s.update(func(btx *bolt.Tx) error {
			var err error
			left, err = (&tx{tx: btx}).indexPending(indexBatch)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// indexer runs IndexGrams a moment after each write that listed pending
// users, until Close. A failure leaves them pending, for the next write
// or the next start to retry; queries stay exact meanwhile (but read every
// pending user), and the failure counts among WriteFailures, which the
// server exports as a metric.
func (s *Store) indexer() {
	defer close(s.indexed)
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		}
		select {
		case <-s.stop:
			return
		case <-time.After(indexDelay):
		}
		if err := s.IndexGrams(); err != nil {
			s.failures.Add(1) // nothing is lost: the users stay pending
		}
	}
}

// IDsWithGrams yields, in id order, the users not pending that the index
// keeps under every trigram, merged with the pending users whose current
// trigrams include them all. (Ids that are not UUIDs as NewID writes them,
// which only a caller of NewUser that brings its own can make, come after
// the UUIDs: see gramID.)
func (t *tx) IDsWithGrams(grams []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		if len(grams) == 0 {
			return
		}
		var pending, matching []string
		c := t.b(bGramPending).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			id := string(k)
			pending = append(pending, id)
			u, err := t.User(id)
			if err != nil {
				continue // no record: no trigrams
			}
			has := store.UserGrams(u)
			if !slices.ContainsFunc(grams, func(g string) bool { _, ok := slices.BinarySearch(has, g); return !ok }) {
				matching = append(matching, id)
			}
		}
		for id := range t.indexed(grams) {
			if _, ok := slices.BinarySearch(pending, id); ok {
				continue
			}
			for len(matching) > 0 && matching[0] < id {
				if !yield(matching[0]) {
					return
				}
				matching = matching[1:]
			}
			if !yield(id) {
				return
			}
		}
		for _, id := range matching {
			if !yield(id) {
				return
			}
		}
	}
}

// UsersWithGrams reads the users of IDsWithGrams.
func (t *tx) UsersWithGrams(grams []string) iter.Seq2[store.User, error] {
	return store.ReadUsers(t, t.IDsWithGrams(grams))
}

// indexed intersects the trigrams' id lists in the index by leapfrogging:
// each cursor moves to the largest id seen so far, so the work follows the
// shortest list, not the longest.
func (t *tx) indexed(grams []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		b := t.b(bUserGram)
		lists := make([]gramList, len(grams))
		for i, g := range grams {
			lists[i] = gramList{c: b.Cursor(), gram: []byte(g)}
		}
		var target []byte // an encoded id (gramID)
		for {
			agreed := 0
			for i := 0; agreed < len(grams); i = (i + 1) % len(grams) {
				id, ok := lists[i].reach(target)
				if !ok {
					return
				}
				if bytes.Equal(id, target) {
					agreed++
				} else {
					target, agreed = bytes.Clone(id), 1
				}
			}
			if !yield(gramIDString(target)) {
				return
			}
			target = append(target, 0) // the least id after target
		}
	}
}

// gramList is a cursor over one trigram's id list in the index.
type gramList struct {
	c    *bolt.Cursor
	gram []byte
	key  []byte // the cursor's key; nil before the first move
	seek []byte // scratch: gram and the id sought
}

// gramSteps is how many keys a gramList steps through before it seeks. A
// step within a leaf costs a few instructions, a seek a descent from the
// root through a page per level, each page's first touch a cache miss: on
// a dense list the next id wanted is usually a few keys on. With 1M users
// (logins user0 to user999999), the ids of "er5" (111,111 users), "er55"
// (11,111) and "er555" (1,120) took 51-57, 6.8-8.3 and 1.4 ms seeking
// every time, 29-35, 2.5-3.8 and 0.4 ms stepping first.
const gramSteps = 8

// reach moves l to the first id of its list at or after id, which it
// returns; false when the list has none.
func (l *gramList) reach(id []byte) ([]byte, bool) {
	if l.key != nil {
		for range gramSteps {
			if !bytes.HasPrefix(l.key, l.gram) {
				return nil, false // past the list's end: ids only grow
			}
			if bytes.Compare(l.key[len(l.gram):], id) >= 0 {
				return l.key[len(l.gram):], true
			}
			if l.key, _ = l.c.Next(); l.key == nil {
				return nil, false
			}
		}
	}
	l.seek = append(append(l.seek[:0], l.gram...), id...)
	l.key, _ = l.c.Seek(l.seek)
	if l.key == nil || !bytes.HasPrefix(l.key, l.gram) {
		l.key = nil
		return nil, false
	}
	return l.key[len(l.gram):], true
}

// gramsKey marks a store whose n-gram index is complete; its value is the
// index's version: 1 held the trigrams of login, name and e-mail, 2 those
// of every store.IndexedTexts.
var gramsKey = []byte("users_gram")

// gramsVersion is the index's current version (see gramsKey).
const gramsVersion = 2

// migrateGrams indexes the trigrams of every user of a store written before
// the n-gram index existed, or adds those of the other SCIM e-mail addresses
// to a version 1 index, a few thousand users a transaction (one transaction
// for a million users would hold all their entries in memory); the mark
// comes last, so an interrupted migration starts over. (A pending user's
// entries are the texts its pending record lists; those of its current
// addresses added here are what the indexer would add.)
func migrateGrams(db *bolt.DB) error {
	var version []byte
	if err := db.View(func(btx *bolt.Tx) error {
		version = bytes.Clone(btx.Bucket(bucketNames[bCounts]).Get(gramsKey))
		return nil
	}); err != nil || bytes.Equal(version, []byte{gramsVersion}) {
		return err
	}
	after := ""
	for more := true; more; {
		err := db.Update(func(btx *bolt.Tx) error {
			t, n := &tx{tx: btx}, 0
			more = false
			for u, err := range t.Users(after) {
				if err != nil {
					return err
				}
				if n++; n > 5000 {
					more = true
					break
				}
				var had []string // what a version 1 index holds
				if version != nil {
					had = store.Grams([]string{u.Login, u.Name, u.Email})
				}
				t.moveGrams(u.ID, had, store.UserGrams(u))
				after = u.ID
			}
			if !more {
				if err := t.b(bCounts).Put(gramsKey, []byte{gramsVersion}); err != nil {
					return err
				}
			}
			return t.flushGrams()
		})
		if err != nil {
			return err
		}
	}
	return nil
}
