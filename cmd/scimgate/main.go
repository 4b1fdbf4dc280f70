// Command scimgate serves the SCIM 2.0 and SonarQube-compatible Web APIs
// over one embedded store, and administers that store offline.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: scimgate <command> [flags]

Commands:
  serve          run the server (SCIM at /api/scim/v2, Web API at /api/*)
  token create   create a user token (offline: the server must be stopped)
  token list     list a user's tokens
  token revoke   revoke a user's token
  user list      list users with their managed and active state
  user show      show one user, its groups and permissions
  access         who can browse a project, and through which grant, group or template
  audit          show the audit trail, newest first
  backup         write a consistent copy of the store (offline, or from a running server)
  restore        replace the store with a backup (the server must be stopped)
  migrate        copy a whole store into an empty one (bbolt <-> PostgreSQL, or compact a bbolt file)
  healthcheck    exit 0 when the server at SCIMGATE_ADDR answers /healthz
  version        print the version

Run 'scimgate <command> -h' for a command's flags. Every command reads
SCIMGATE_DB (default ./scimgate.db) unless -db is given: a bbolt file, or
a postgres:// URL.
`

// command is one subcommand: it parses its own flags from args.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

func commands() map[string]command {
	return map[string]command{
		"serve": serve, "token create": tokenCreate, "token list": tokenList, "token revoke": tokenRevoke,
		"user list": userList, "user show": userShow, "access": accessCmd, "audit": auditCmd, "backup": backupCmd,
		"restore": restoreCmd, "migrate": migrateCmd, "healthcheck": healthcheck, "version": version,
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmds := commands()
	if len(args) > 1 {
		if cmd, ok := cmds[args[0]+" "+args[1]]; ok {
			return cmd(ctx, args[2:], stdout, stderr)
		}
	}
	if cmd, ok := cmds[args[0]]; ok {
		return cmd(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "scimgate: unknown command %q\n\n%s", args[0], usage)
	return 2
}
