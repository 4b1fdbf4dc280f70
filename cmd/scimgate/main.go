// Command scimgate serves the SCIM 2.0 and SonarQube-compatible Web APIs
// over one embedded store.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: scimgate <command> [flags]

Commands:
  serve    run the server (SCIM at /api/scim/v2, Web API at /api/*)

Run 'scimgate <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "scimgate: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", env("SCIMGATE_ADDR", "127.0.0.1:9000"), "listen address (env SCIMGATE_ADDR)")
	dbPath := fs.String("db", env("SCIMGATE_DB", "./scimgate.db"), "store file (env SCIMGATE_DB)")
	baseURL := fs.String("base-url", env("SCIMGATE_BASE_URL", ""), "public URL of this server, for SCIM meta.location (env SCIMGATE_BASE_URL; default http://<addr>)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *baseURL == "" {
		*baseURL = "http://" + *addr
	}

	st, err := bolt.Open(*dbPath)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: %v\n", err)
		return 1
	}
	defer st.Close()
	password, created, err := store.Bootstrap(ctx, st, os.Getenv("SCIMGATE_ADMIN_PASSWORD"))
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: bootstrap: %v\n", err)
		return 1
	}
	if created && os.Getenv("SCIMGATE_ADMIN_PASSWORD") == "" {
		fmt.Fprintf(stdout, "Created user 'admin' with password: %s\nThis is shown once; change it with api/users/change_password.\n", password)
	} else if created {
		fmt.Fprintln(stdout, "Created user 'admin' with the password from SCIMGATE_ADMIN_PASSWORD.")
	}

	e, err := newServer(st, *baseURL, log)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: %v\n", err)
		return 1
	}
	srv := &http.Server{Addr: *addr, Handler: e, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("scimgate listening", "addr", *addr, "db", *dbPath, "scim", *baseURL+"/api/scim/v2")
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "scimgate: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintf(stderr, "scimgate: shutdown: %v\n", err)
		return 1
	}
	return 0
}
