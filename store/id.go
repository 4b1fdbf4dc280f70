package store

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

var idMu sync.Mutex
var lastMillis uint64
var seq uint16

// NewID returns a random, time-ordered UUID (version 7), so that iterating ids
// in byte order walks resources in creation order.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	ms := uint64(time.Now().UnixMilli())
	idMu.Lock()
	if ms <= lastMillis {
		ms = lastMillis
		seq++
		if seq == 0x0fff {
			ms++
			seq = 0
		}
	} else {
		seq = 0
	}
	lastMillis = ms
	s := seq
	idMu.Unlock()
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], ms<<16)
	copy(b[0:6], t[0:6])
	binary.BigEndian.PutUint16(b[6:8], 0x7000|s) // version 7, monotonic counter
	b[8] = b[8]&0x3f | 0x80                      // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// ValidID reports whether id has the shape NewID produces. Adapters check ids
// before they reach the store, so no path trickery gets through.
func ValidID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range []byte(id) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
