package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A read-only transaction's COMMIT costs a round trip of its own, though
// nothing waits for what it answers: a View that read in one round trip (a
// SCIM user with its groups) took two. So a View's connection is not
// committed when fn returns: it is set aside with its transaction still
// open, and the COMMIT goes in front of the next transaction's first
// statements on it (tx.send), in their round trip. A connection set aside
// for lingerMax is committed and returned to the pool by the sweeper, so no
// snapshot stays open on an idle replica (an open snapshot holds back
// vacuum). The transaction is READ ONLY, so its COMMIT cannot fail for
// anything it did, and what it read was answered already.
//
// Transactions take their connections through conns, never straight from
// the pool: a connection set aside counts as taken from the pool, and a
// caller waiting for one gets either a connection set aside or a new one
// from the pool, whichever comes first. One connection of the pool is left
// out of conns (when the pool has two or more) for what takes its
// connection straight from the pool (the shared generation read, pings).

// lingerMax is how long a connection stays set aside before the sweeper
// commits it (the sweeper looks every lingerMax: a connection may wait up
// to twice that).
const lingerMax = 5 * time.Millisecond

// conns hands out the pool's connections to transactions.
type conns struct {
	pool  *pgxpool.Pool
	slots chan struct{} // a token for each connection taken through conns
	// aside: connections holding a read-only transaction whose COMMIT is
	// not sent; empty (no capacity) when the pool has one connection.
	aside  chan asideConn
	kick   chan struct{} // wakes the sweeper when a connection is set aside
	mu     sync.Mutex    // guards closed against setting a connection aside
	closed bool
	stop   chan struct{}
	swept  chan struct{} // closed when the sweeper has committed the last one
}

// asideConn is a connection set aside and when it was.
type asideConn struct {
	conn  *pgxpool.Conn
	since time.Time
}

func newConns(pool *pgxpool.Pool) *conns {
	n, spare := int(pool.Config().MaxConns), 0
	if n >= 2 {
		n, spare = n-1, n-1 // at most n are out, so aside always has room
	}
	c := &conns{pool: pool, slots: make(chan struct{}, n), aside: make(chan asideConn, spare),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), swept: make(chan struct{})}
	go c.sweep()
	return c
}

// acquire returns a connection, and whether it holds a read-only
// transaction whose COMMIT must go first.
func (c *conns) acquire(ctx context.Context) (*pgxpool.Conn, bool, error) {
	select {
	case a := <-c.aside:
		return a.conn, true, nil
	default:
	}
	select {
	case a := <-c.aside:
		return a.conn, true, nil
	case c.slots <- struct{}{}:
		conn, err := c.pool.Acquire(ctx)
		if err != nil {
			<-c.slots
			return nil, false, err
		}
		return conn, false, nil
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// release gives conn back: set aside if it holds a read-only transaction
// that only its COMMIT ends (open), else to the pool, which closes a
// connection left in a transaction or broken.
func (c *conns) release(conn *pgxpool.Conn, open bool) {
	if open && conn.Conn().PgConn().TxStatus() == 'T' {
		c.mu.Lock()
		aside := false
		if !c.closed {
			select {
			case c.aside <- asideConn{conn, time.Now()}:
				aside = true
			default: // a pool of one connection sets none aside
			}
		}
		c.mu.Unlock()
		if aside {
			select {
			case c.kick <- struct{}{}:
			default:
			}
			return
		}
		c.commit(conn)
	}
	conn.Release()
	<-c.slots
}

// commit commits conn's read-only transaction; on failure the pool closes
// the connection when it is released.
func (c *conns) commit(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn.Exec(ctx, "COMMIT")
}

// sweep commits and returns to the pool the connections set aside for
// lingerMax, and every one of them at close.
func (c *conns) sweep() {
	defer close(c.swept)
	for {
		select {
		case <-c.kick:
		case <-c.stop:
			c.sweepAll(0)
			return
		}
		for len(c.aside) > 0 {
			select {
			case <-time.After(lingerMax):
			case <-c.stop:
				c.sweepAll(0)
				return
			}
			c.sweepAll(lingerMax)
		}
	}
}

// sweepAll releases the connections set aside for age or longer.
func (c *conns) sweepAll(age time.Duration) {
	for range len(c.aside) {
		select {
		case a := <-c.aside:
			if time.Since(a.since) < age {
				c.aside <- a // room: this one was in it, and no more are out
				continue
			}
			c.commit(a.conn)
			c.release(a.conn, false)
		default:
			return
		}
	}
}

// close commits the connections set aside, and sets none aside after.
func (c *conns) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.stop)
	}
	c.mu.Unlock()
	<-c.swept
}
