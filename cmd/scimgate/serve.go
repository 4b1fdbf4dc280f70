package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
)

// parseFlags parses a command's flags; it returns an exit code to stop with
// (0 after -h, 2 on bad flags) or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) int {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	return -1
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.flags(fs)
	if code := parseFlags(fs, args, stderr); code >= 0 {
		return code
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "scimgate: invalid configuration:\n%v\n", err)
		return 2
	}
	logs := newLogWriter(stderr)
	defer logs.Close()
	log := cfg.logger(logs)
	if os.Getenv("GOGC") == "" {
		// The live heap is small (records live in the mmap'd file), so trading
		// some memory for less GC work is cheap: measured +15% reads/s.
		debug.SetGCPercent(400)
	}

	st, err := openStore(ctx, cfg.DB)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: %v\n", err)
		return 1
	}
	defer st.Close()
	envPassword := os.Getenv("SCIMGATE_ADMIN_PASSWORD")
	password := cmp.Or(envPassword, store.RandomPassword(cfg.Policy.PasswordMinLength))
	password, created, err := store.Bootstrap(ctx, st, password)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: bootstrap: %v\n", err)
		return 1
	}
	if created && envPassword == "" {
		fmt.Fprintf(stdout, "Created user 'admin' with password: %s\nThis is shown once; change it with api/users/change_password.\n", password)
	} else if created {
		fmt.Fprintln(stdout, "Created user 'admin' with the password from SCIMGATE_ADMIN_PASSWORD.")
	}

	s, err := newServer(st, serverOptions{BaseURL: cfg.BaseURL, Policy: cfg.Policy, Proxies: cfg.proxies, MetricsApart: cfg.MetricsAddr != "", Version: cfg.SonarQubeVersion, Edition: cfg.Edition, NoSCIMAlias: !cfg.SCIMAlias,
		Lockout: auth.NewLockout(cfg.LockoutThreshold, time.Duration(cfg.LockoutMinutes)*time.Minute)}, log)
	if err != nil {
		fmt.Fprintf(stderr, "scimgate: %v\n", err)
		return 1
	}
	srv := &http.Server{Addr: cfg.Addr, Handler: s.echo, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 2)
	go func() {
		if cfg.TLSCert != "" {
			errc <- srv.ListenAndServeTLS(cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.ListenAndServe()
		}
	}()
	if cfg.MetricsAddr != "" {
		msrv := &http.Server{Addr: cfg.MetricsAddr, Handler: s.metricsHandler(), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { errc <- msrv.ListenAndServe() }()
		defer msrv.Close()
		log.Info("metrics listening", "addr", cfg.MetricsAddr)
	}
	if cfg.AuditRetentionDays > 0 {
		go pruneAudit(ctx, s.store, time.Duration(cfg.AuditRetentionDays)*24*time.Hour, log)
	}
	log.Info("scimgate listening", "addr", cfg.Addr, "db", dbName(cfg.DB), "scim", cfg.BaseURL+"/api/scim/v2", "tls", cfg.TLSCert != "")
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "scimgate: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	s.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintf(stderr, "scimgate: shutdown: %v\n", err)
		return 1
	}
	s.auth.Wait() // last-connection writes in flight reach the store before it closes
	log.Info("stopped")
	return 0
}

// pruneAudit deletes expired audit entries at start and then hourly, until
// ctx ends.
func pruneAudit(ctx context.Context, st store.Store, keep time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := store.PruneAudit(ctx, st, keep)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("audit pruning failed", "err", err)
		case n > 0:
			log.Info("audit entries pruned", "count", n, "older than", keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
