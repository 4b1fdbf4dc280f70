// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb in
// a temporary directory, a server on a free loopback port, removed after.
// Without PostgreSQL's server binaries the tests that need one skip, saying
// how to install them.
package pgtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Install is what a skipped test says.
const Install = "PostgreSQL server binaries (initdb, pg_ctl) not found: install them (Debian: apt-get install postgresql) to run the PostgreSQL tests"

// Server is one throwaway cluster.
type Server struct {
	dir, bin string
	port     int
	cred     *syscall.Credential // the server's user when tests run as root
	dbs      atomic.Int64
	watchdog *exec.Cmd      // removes the cluster if the test binary dies first
	lifeline io.WriteCloser // the watchdog's stdin: closes when the binary ends
}

// binDir finds the directory of pg_ctl: on the PATH, else Debian's
// versioned directories (newest first).
func binDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
	if len(found) == 0 {
		return "", fmt.Errorf("%s", Install)
	}
	return filepath.Dir(found[0]), nil
}

func versionOf(pgCtl string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(pgCtl))))
	return v
}

// New initialises and starts a cluster. PostgreSQL refuses to run as root:
// then it runs as the user postgres (created by the Debian package).
func New() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "scimgate-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and no user postgres to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := s.run("initdb", "-D", s.data(), "-U", "scimgate", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.watch(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// watch starts a process that outlives a test binary killed before its
// cleanups run (a -timeout panic, SIGKILL): it waits for the end of a pipe
// only this process holds, which closes when the binary is gone however it
// ends, then stops the cluster at once and removes its files, so that no
// server is left running. Close ends it first.
func (s *Server) watch() error {
	const script = `read -r _; "$1" -D "$2" -m immediate -w stop; rm -rf "$3"`
	cmd := exec.Command("/bin/sh", "-c", script, "pgtest-watchdog", filepath.Join(s.bin, "pg_ctl"), s.data(), s.dir)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	lifeline, err := cmd.StdinPipe() // held open until the binary ends
	if err != nil {
		return fmt.Errorf("pgtest watchdog: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest watchdog: %w", err)
	}
	s.watchdog, s.lifeline = cmd, lifeline
	return nil
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

func (s *Server) run(name string, args ...string) error {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	return nil
}

// Start starts the server (again, after Stop), on the same port once it
// has one.
func (s *Server) Start() error {
	if s.port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off", s.port, s.dir)
	return s.run("pg_ctl", "-D", s.data(), "-l", filepath.Join(s.dir, "log"), "-w", "-o", opts, "start")
}

// Stop stops the server at once (immediate shutdown: connections drop).
func (s *Server) Stop() error {
	return s.run("pg_ctl", "-D", s.data(), "-m", "immediate", "-w", "stop")
}

// Close stops the server and removes its files.
func (s *Server) Close() {
	if s.watchdog != nil {
		s.watchdog.Process.Kill()
		s.lifeline.Close()
		s.watchdog.Wait()
	}
	s.Stop()
	os.RemoveAll(s.dir)
}

// Dir is the directory that holds the cluster's files (removed by Close).
func (s *Server) Dir() string { return s.dir }

// Port is the server's loopback port.
func (s *Server) Port() int { return s.port }

// URL is the URL of database db on the server.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://scimgate@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates an empty database and returns its URL; it is
// dropped when t ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d", s.dbs.Add(1))
	admin := func(sql string) error {
		conn, err := pgx.Connect(context.Background(), s.URL("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), sql)
		return err
	}
	if err := admin("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return s.URL(name)
}

// Start starts a cluster of t's own, closed when t ends; t skips when
// PostgreSQL is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New()
	if err != nil && err.Error() == Install {
		t.Skip(Install)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// URL returns the URL of a new empty database on the cluster the tests of
// this package share (started on first use; see Main); t skips when
// PostgreSQL is not installed.
func URL(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() { shared.srv, shared.err = New() })
	if shared.err != nil && shared.err.Error() == Install {
		t.Skip(Install)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv.NewDatabase(t)
}

// Main runs a package's tests and then removes the shared cluster: call it
// from TestMain as os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Close()
	}
	return code
}
