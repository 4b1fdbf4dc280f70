package store

import (
	"context"
	"fmt"
	"iter"
	"slices"
)

// CopyCounts is what Copy copied, by kind.
type CopyCounts struct {
	Users, Groups, Memberships, Permissions, Tokens, Sessions int
	Projects, Templates, Organizations, Audit                 int
}

// copyBatch is how many records Copy writes per transaction of the target.
const copyBatch = 1000

// Copy copies the whole of from, read in one snapshot, into to, which must
// be empty (no users, groups, projects, templates, organisations or audit
// entries): a copy never merges. It then counts both sides and fails unless
// they agree. The target is written in transactions of copyBatch records,
// so a failed copy leaves a partial target: empty it and copy again.
// Password failure counts and the audit sequence numbers are not copied
// (the target numbers the trail afresh, in the same order).
func Copy(ctx context.Context, from, to Store) (CopyCounts, error) {
	if err := to.View(ctx, func(tx Tx) error {
		n, err := countAll(tx)
		if err == nil && n != (CopyCounts{}) {
			err = fmt.Errorf("the target store is not empty (%+v): copy into an empty one", n)
		}
		return err
	}); err != nil {
		return CopyCounts{}, err
	}
	var want CopyCounts
	err := from.View(ctx, func(src Tx) error {
		w := &batchWriter{ctx: ctx, to: to}
		if err := copyRecords(src, w, &want); err != nil {
			return err
		}
		return w.flush()
	})
	if err != nil {
		return want, err
	}
	var got CopyCounts
	err = to.View(ctx, func(tx Tx) error {
		var err error
		got, err = countAll(tx)
		return err
	})
	if err == nil && got != want {
		err = fmt.Errorf("copy verification failed: the source has %+v, the target %+v", want, got)
	}
	return got, err
}

// batchWriter queues writes and runs them copyBatch at a time.
type batchWriter struct {
	ctx     context.Context
	to      Store
	pending []func(Tx) error
}

// put queues fn; on a nil writer (counting only) it does nothing.
func (w *batchWriter) put(fn func(Tx) error) error {
	if w == nil {
		return nil
	}
	w.pending = append(w.pending, fn)
	if len(w.pending) >= copyBatch {
		return w.flush()
	}
	return nil
}

func (w *batchWriter) flush() error {
	batch := w.pending
	w.pending = nil
	return w.to.Update(w.ctx, func(tx Tx) error {
		for _, fn := range batch {
			if err := fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// copyRecords counts every record of src into n and, unless w is nil,
// queues its copy on w.
func copyRecords(src Tx, w *batchWriter, n *CopyCounts) error {
	if err := copyEach(src.Organizations(), w, &n.Organizations, Tx.PutOrganization); err != nil {
		return err
	}
	if err := copyEach(src.Projects(), w, &n.Projects, Tx.PutProject); err != nil {
		return err
	}
	if err := copyEach(src.Templates(), w, &n.Templates, Tx.PutTemplate); err != nil {
		return err
	}
	subjects := []Subject{GroupSubject(AnyoneGroup)}
	for g, err := range src.Groups("") {
		if err != nil {
			return err
		}
		n.Groups++
		subjects = append(subjects, GroupSubject(g.ID))
		if err := w.put(func(tx Tx) error { return tx.PutGroup(g) }); err != nil {
			return err
		}
		for uid := range src.Members(g.ID) {
			n.Memberships++
			if err := w.put(func(tx Tx) error { return tx.AddMember(g.ID, uid) }); err != nil {
				return err
			}
		}
	}
	for u, err := range src.Users("") {
		if err != nil {
			return err
		}
		n.Users++
		subjects = append(subjects, UserSubject(u.ID))
		if err := w.put(func(tx Tx) error { return tx.PutUser(u) }); err != nil {
			return fmt.Errorf("user %s: %w", u.Login, err)
		}
		tokens, err := src.Tokens(u.ID)
		if err != nil {
			return err
		}
		sessions, err := src.SessionsOf(u.ID)
		if err != nil {
			return err
		}
		n.Tokens, n.Sessions = n.Tokens+len(tokens), n.Sessions+len(sessions)
		if err := w.put(func(tx Tx) error {
			for _, t := range tokens {
				if err := tx.PutToken(t); err != nil {
					return err
				}
			}
			for _, s := range sessions {
				if err := tx.PutSession(s); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	for _, s := range subjects {
		perms, err := src.Permissions(s)
		if err != nil {
			return err
		}
		n.Permissions += len(perms)
		for _, p := range perms {
			if err := w.put(func(tx Tx) error { return tx.Grant(s, p) }); err != nil {
				return err
			}
		}
	}
	// The trail is read newest first and must be appended oldest first.
	var trail []AuditEntry
	for e, err := range src.Audit() {
		if err != nil {
			return err
		}
		if n.Audit++; w != nil {
			trail = append(trail, e)
		}
	}
	slices.Reverse(trail)
	for _, e := range trail {
		if err := w.put(func(tx Tx) error { return tx.AppendAudit(&e) }); err != nil {
			return err
		}
	}
	return nil
}

// copyEach counts every record of seq into n and queues put of it on w.
func copyEach[T any](seq iter.Seq2[T, error], w *batchWriter, n *int, put func(Tx, T) error) error {
	for v, err := range seq {
		if err != nil {
			return err
		}
		*n++
		if err := w.put(func(tx Tx) error { return put(tx, v) }); err != nil {
			return err
		}
	}
	return nil
}

// countAll counts what Copy copies.
func countAll(tx Tx) (CopyCounts, error) {
	var n CopyCounts
	err := copyRecords(tx, nil, &n)
	return n, err
}
