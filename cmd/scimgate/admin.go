package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/postgres"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "dev"

// offline opens the store for an administrative command, audited as "cli".
func offline(ctx context.Context, db string, stderr io.Writer) (store.Store, context.Context, func(), bool) {
	st, err := openStore(ctx, db)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: %v\n", err)
		return nil, nil, nil, false
	}
	user := os.Getenv("USER")
	ctx = store.WithActor(ctx, store.Actor{Login: "cli:" + user, API: "cli"})
	return store.Audited(st, nil), ctx, func() { st.Close() }, true
}

// readTable runs fn in one read transaction of the store at db and prints
// the rows it writes as an aligned table under header (none when empty).
func readTable(ctx context.Context, db string, stdout, stderr io.Writer, header string, fn func(tx store.Tx, w io.Writer) error) int {
	st, ctx, done, ok := offline(ctx, db, stderr)
	if !ok {
		return 1
	}
	defer done()
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	if header != "" {
		fmt.Fprintln(tw, header)
	}
	if err := st.View(ctx, func(tx store.Tx) error { return fn(tx, tw) }); err != nil {
		return fail(stderr, err)
	}
	tw.Flush()
	return 0
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "scimgate: %s\n", store.ErrorMessage(err))
	if store.ErrorCode(err) == store.EInternal {
		fmt.Fprintf(stderr, "  (%v)\n", err)
	}
	return 1
}

// operator is who the offline commands act as: whoever may open the store
// file holds every right.
var operator = store.Caller{Admin: true}

func findUser(tx store.Tx, login string) (store.User, error) {
	u, err := tx.UserByLogin(login)
	if err != nil || u.Login != login {
		return u, store.Errorf(store.ENotFound, "no user with login '%s'", login)
	}
	return u, nil
}

func tokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token create", flag.ContinueOnError)
	db := dbFlag(fs)
	login := fs.String("login", "admin", "owner of the token")
	name := fs.String("name", "", "token name (required, unique per user)")
	expires := fs.String("expires", "", "expiration date YYYY-MM-DD (default: never)")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if *name == "" || len(*name) > store.MaxTokenName {
		fmt.Fprintf(stderr, "scimgate: -name is required (at most %d characters)\n", store.MaxTokenName)
		return 2
	}
	var exp *time.Time
	if *expires != "" {
		d, err := time.ParseInLocation("2006-01-02", *expires, time.UTC)
		if err != nil || !d.After(store.Now()) {
			fmt.Fprintln(stderr, "scimgate: -expires must be a future date, YYYY-MM-DD")
			return 2
		}
		exp = &d
	}
	st, ctx, done, ok := offline(ctx, *db, stderr)
	if !ok {
		return 1
	}
	defer done()
	tok, err := store.GenerateToken(ctx, st, operator, store.TokenRequest{Login: *login, Name: *name, Expires: exp})
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintln(stdout, tok.Secret)
	return 0
}

func tokenList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token list", flag.ContinueOnError)
	db := dbFlag(fs)
	login := fs.String("login", "admin", "owner of the tokens")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	return readTable(ctx, *db, stdout, stderr, "NAME\tTYPE\tCREATED\tEXPIRES\tLAST USED", func(tx store.Tx, w io.Writer) error {
		u, err := findUser(tx, *login)
		if err != nil {
			return err
		}
		toks, err := tx.Tokens(u.ID)
		for _, t := range toks {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Type, t.Created.Format(time.RFC3339), orDash(t.Expires), orDash(t.LastConnection))
		}
		return err
	})
}

func orDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func tokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token revoke", flag.ContinueOnError)
	db := dbFlag(fs)
	login := fs.String("login", "admin", "owner of the token")
	name := fs.String("name", "", "token name (required)")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if *name == "" {
		fmt.Fprintln(stderr, "scimgate: -name is required")
		return 2
	}
	st, ctx, done, ok := offline(ctx, *db, stderr)
	if !ok {
		return 1
	}
	defer done()
	revoked, err := store.RevokeToken(ctx, st, operator, *login, *name)
	if err == nil && !revoked {
		err = store.Errorf(store.ENotFound, "'%s' has no token named '%s'", *login, *name)
	}
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "revoked token '%s' of '%s'\n", *name, *login)
	return 0
}

func userList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("user list", flag.ContinueOnError)
	db := dbFlag(fs)
	managed := fs.String("managed", "", "only managed (true) or local (false) users")
	active := fs.String("active", "", "only active (true) or deactivated (false) users")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	for _, v := range []string{*managed, *active} {
		if v != "" && v != "true" && v != "false" {
			fmt.Fprintln(stderr, "scimgate: -managed and -active take true or false")
			return 2
		}
	}
	return readTable(ctx, *db, stdout, stderr, "LOGIN\tMANAGED\tACTIVE\tEXTERNAL ID\tNAME\tEMAIL", func(tx store.Tx, w io.Writer) error {
		for u, err := range tx.UsersByLogin() {
			if err != nil {
				return err
			}
			if *managed != "" && fmt.Sprint(u.Managed) != *managed || *active != "" && fmt.Sprint(u.Active) != *active {
				continue
			}
			fmt.Fprintf(w, "%s\t%v\t%v\t%s\t%s\t%s\n", u.Login, u.Managed, u.Active, dash(u.ExternalID), u.Name, dash(u.Email))
		}
		return nil
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func userShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("user show", flag.ContinueOnError)
	db := dbFlag(fs)
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "scimgate: user show takes one login")
		return 2
	}
	return readTable(ctx, *db, stdout, stderr, "", func(tx store.Tx, w io.Writer) error {
		u, err := findUser(tx, fs.Arg(0))
		if err != nil {
			return err
		}
		var groups []string
		for gid := range store.GroupsOf(tx, u.ID) {
			g, err := tx.Group(gid)
			if err != nil {
				return err
			}
			groups = append(groups, g.Name)
		}
		perms, err := store.UserPermissions(tx, u.ID)
		if err != nil {
			return err
		}
		toks, _ := tx.Tokens(u.ID)
		for _, row := range [][2]string{
			{"login", u.Login}, {"id", u.ID}, {"name", u.Name}, {"email", dash(u.Email)},
			{"managed", fmt.Sprint(u.Managed)}, {"active", fmt.Sprint(u.Active)}, {"local", fmt.Sprint(u.Local)},
			{"external id", dash(u.ExternalID)}, {"external provider", dash(u.ExternalProvider)},
			{"groups", dash(strings.Join(groups, ", "))}, {"permissions", dash(strings.Join(perms, ", "))},
			{"tokens", fmt.Sprint(len(toks))}, {"created", u.Created.Format(time.RFC3339)}, {"updated", u.Updated.Format(time.RFC3339)},
		} {
			fmt.Fprintf(w, "%s:\t%s\n", row[0], row[1])
		}
		return nil
	})
}

func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	db := dbFlag(fs)
	name := fs.String("name", "", "only entries about this login or group name")
	limit := fs.Int("limit", 50, "at most this many entries, newest first")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	n := 0
	return readTable(ctx, *db, stdout, stderr, "TIME\tACTOR\tAPI\tOPERATION\tKIND\tACTION\tNAME\tBEFORE\tAFTER\tDETAIL", func(tx store.Tx, w io.Writer) error {
		for e, err := range tx.Audit() {
			if err != nil {
				return err
			}
			if *name != "" && e.Name != *name {
				continue
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), dash(e.Actor), e.API, dash(e.Op),
				e.Kind, e.Action, dash(e.Name), state(e.Before), state(e.After), e.Detail)
			if n++; n >= *limit {
				break
			}
		}
		return nil
	})
}

func state(s *store.State) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("active=%v,managed=%v", s.Active, s.Managed)
}

func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	db := dbFlag(fs)
	out := fs.String("o", "", "backup file to write (required)")
	server := fs.String("server", "", "take the backup from a running server at this URL instead of opening -db")
	token := fs.String("token", os.Getenv("SCIMGATE_TOKEN"), "admin token for -server (env SCIMGATE_TOKEN)")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if *out == "" {
		fmt.Fprintln(stderr, "scimgate: -o is required")
		return 2
	}
	n, err := installStoreFile(*out, func(w io.Writer) (int64, error) {
		if *server != "" {
			return backupFromServer(ctx, *server, *token, w)
		}
		st, err := openStore(ctx, *db)
		if err != nil {
			return 0, fmt.Errorf("%v\n(to back up a running server, use -server URL -token TOKEN)", err)
		}
		defer st.Close()
		return st.Backup(ctx, w)
	})
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: backup: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", *out, n)
	return 0
}

// installStoreFile writes a store file to a temporary file beside dst with
// fill, syncs it, checks it is a consistent store, and only then renames it
// over dst: a failure at any step leaves dst as it was.
func installStoreFile(dst string, fill func(io.Writer) (int64, error)) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".scimgate-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := fill(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = verifyStoreFile(tmp.Name())
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	return n, err
}

func backupFromServer(ctx context.Context, server, token string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/api/scimgate/backup", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return 0, fmt.Errorf("server answered %s %s", res.Status, strings.TrimSpace(string(msg)))
	}
	return io.Copy(w, res.Body)
}

// verifyStoreFile opens a copy as a store and runs bbolt's consistency check.
func verifyStoreFile(path string) error {
	st, err := bolt.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Check()
}

func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	db := dbFlag(fs)
	in := fs.String("i", "", "backup file to restore (required)")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if *in == "" {
		fmt.Fprintln(stderr, "scimgate: -i is required")
		return 2
	}
	if postgres.IsURL(*db) {
		fmt.Fprintln(stderr, "scimgate: restore replaces a bbolt file; to load a backup into PostgreSQL, use\n  scimgate migrate -from BACKUP_FILE -to postgres://... (into an empty database)\nor restore a pg_dump with pg_restore")
		return 2
	}
	// Holding the live store open proves no server uses it during the swap.
	if _, err := os.Stat(*db); err == nil {
		live, err := bolt.Open(*db)
		if err != nil {
			fmt.Fprintf(stderr, "scimgate: %v\n(stop the server before restoring)\n", err)
			return 1
		}
		defer live.Close()
	}
	src, err := os.Open(*in)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: %v\n", err)
		return 1
	}
	defer src.Close()
	if _, err := installStoreFile(*db, func(w io.Writer) (int64, error) { return io.Copy(w, src) }); err != nil {
		fmt.Fprintf(stderr, "scimgate: restore: %v (the store was not changed)\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s from %s\n", *db, *in)
	return 0
}

func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	addr := fs.String("addr", env("SCIMGATE_ADDR", "127.0.0.1:9000"), "server address (env SCIMGATE_ADDR)")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	host := *addr
	if strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, ":") {
		host = "127.0.0.1:" + host[strings.LastIndex(host, ":")+1:]
	}
	scheme := "http"
	if os.Getenv("SCIMGATE_TLS_CERT") != "" {
		scheme = "https"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+host+"/healthz", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
		return 1
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "unhealthy: %s\n", res.Status)
		return 1
	}
	return 0
}

func version(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fmt.Fprintf(stdout, "scimgate %s\n", Version)
	if info, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(stdout, "go %s\n", info.GoVersion)
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" || s.Key == "vcs.time" {
				fmt.Fprintf(stdout, "%s %s\n", s.Key, s.Value)
			}
		}
	}
	return 0
}

// accessCmd answers "who can browse project P, and through what?" offline;
// a running server answers the same at GET /api/scimgate/access.
func accessCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("access", flag.ContinueOnError)
	db := dbFlag(fs)
	perm := fs.String("permission", store.PermBrowse, "project permission: "+strings.Join(store.ProjectPermissions, ", "))
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if fs.NArg() != 1 || !slices.Contains(store.ProjectPermissions, *perm) {
		fmt.Fprintln(stderr, "scimgate: access takes one project key, and -permission one of "+strings.Join(store.ProjectPermissions, ", "))
		return 2
	}
	return readTable(ctx, *db, stdout, stderr, "", func(tx store.Tx, w io.Writer) error {
		p, err := tx.ProjectByKey(fs.Arg(0))
		if err != nil || p.Key != fs.Arg(0) {
			return store.Errorf(store.ENotFound, "no project with key '%s'", fs.Arg(0))
		}
		anyone, users, err := store.ProjectAccess(tx, p, *perm)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "project %s (%s%s): %s\n", p.Key, p.Visibility(), prefixed(", organization ", p.Organization), *perm)
		if len(anyone) > 0 {
			fmt.Fprintf(w, "Anyone holds it: %s\n", describeVia(anyone))
		}
		fmt.Fprintln(w, "LOGIN\tMANAGED\tVIA")
		for a, err := range users {
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\t%v\t%s\n", a.User.Login, a.User.Managed, describeVia(a.Via))
		}
		return nil
	})
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

// describeVia renders access paths: "public", "user", "group devs
// (template default)", "anyone".
func describeVia(paths []store.AccessPath) string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = p.Via + prefixed(" ", p.Group) + prefixed(" (template ", p.Template)
		if p.Template != "" {
			out[i] += ")"
		}
	}
	return strings.Join(out, ", ")
}

// migrateCmd copies a whole store into an empty one: between bbolt and
// PostgreSQL either way, or bbolt into a fresh bbolt file (compaction).
func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	from := fs.String("from", "", "store to copy: a bbolt file or a postgres:// URL (required)")
	to := fs.String("to", "", "empty store to copy into: a bbolt file (created) or a postgres:// URL (required)")
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if *from == "" || *to == "" || *from == *to {
		fmt.Fprintln(stderr, "scimgate: -from and -to are required and must differ")
		return 2
	}
	if !postgres.IsURL(*from) {
		if _, err := os.Stat(*from); err != nil {
			fmt.Fprintf(stderr, "scimgate: no store at %s: %v\n", *from, err)
			return 1
		}
	}
	src, err := openStore(ctx, *from)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: %v\n(stop the servers using %s first)\n", err, dbName(*from))
		return 1
	}
	defer src.Close()
	dst, err := openStore(ctx, *to)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: %v\n", err)
		return 1
	}
	defer dst.Close()
	start := time.Now()
	n, err := store.Copy(ctx, src, dst)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: migrate: %v\n", err)
		return 1
	}
	if b, ok := dst.(*bolt.Store); ok {
		if err := b.Check(); err != nil {
			fmt.Fprintf(stderr, "scimgate: migrate: the copy fails its consistency check: %v\n", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "copied %s to %s in %s, counts verified:\n", dbName(*from), dbName(*to), time.Since(start).Round(time.Millisecond))
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	for _, c := range []struct {
		name string
		n    int
	}{{"users", n.Users}, {"groups", n.Groups}, {"memberships", n.Memberships}, {"permissions", n.Permissions},
		{"tokens", n.Tokens}, {"sessions", n.Sessions}, {"projects", n.Projects}, {"templates", n.Templates},
		{"organizations", n.Organizations}, {"audit entries", n.Audit}} {
		fmt.Fprintf(tw, "  %s\t%d\n", c.name, c.n)
	}
	tw.Flush()
	return 0
}
