package webapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/scimgate/scimgate/store"
)

// locales are the UI languages a local user may choose.
var locales = []string{"de", "en", "en-GB", "en-US", "es", "fr", "it", "ja", "ko", "pt", "pt-BR", "ru", "zh", "zh-CN", "zh-TW"}

// policyParams are scimgate's per-user settings on users/create and
// users/update. An empty value clears a setting.
var policyParams = []param{
	{Key: "locale", Desc: "Language of the user interface, one of " + strings.Join(locales, ", ") + ". Empty: the instance default.", Since: "scimgate 1.1", Example: "en-US"},
	{Key: "passwordExpirationDays", Desc: "Days after which the user's password expires, 0 for never. Empty: the instance setting. Local users only.", Since: "scimgate 1.1", Example: "90"},
	{Key: "sessionTimeout", Desc: "Idle time in seconds after which the user's sessions end, 60 to 604800. Empty: the instance setting. Local users only.", Since: "scimgate 1.1", Example: "3600"},
	{Key: "lockoutThreshold", Desc: "Failed password logins that lock the user, 0 (never) to 5. Empty: the instance setting. Local users only.", Since: "scimgate 1.1", Example: "3"},
	{Key: "trustedHosts", Desc: "Comma-separated IP addresses and CIDR ranges from which the user's password, sessions and tokens are accepted. Empty: anywhere.", Since: "scimgate 1.1", Example: "10.0.0.0/8,192.0.2.7", MaxLen: 4000},
}

const (
	msgLocalOnly    = "Password settings can only be set on local users"
	msgLocaleLocked = "It is not allowed to update locale for this user"
)

// hasPasswordPolicy reports whether the request sets a password setting.
func (cl *call) hasPasswordPolicy() bool {
	return cl.has("passwordExpirationDays") || cl.has("sessionTimeout") || cl.has("lockoutThreshold")
}

// applyPolicy sets the per-user settings the request carries on u.
func (cl *call) applyPolicy(u *store.User) error {
	if cl.hasPasswordPolicy() && (u.Managed || !u.Local) {
		return invalid(msgLocalOnly)
	}
	if cl.has("locale") {
		if u.Managed {
			return invalid(msgLocaleLocked)
		}
		if l := cl.str("locale"); l != "" && !contains(locales, l) {
			return invalid("Locale '%s' is not supported. Supported locales: %s", l, strings.Join(locales, ", "))
		}
		u.Locale = cl.str("locale")
	}
	if cl.has("passwordExpirationDays") {
		u.Policy.PasswordExpirationDays = nil
		if v := cl.str("passwordExpirationDays"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > store.MaxPasswordExpiryDays {
				return invalid("Value of parameter 'passwordExpirationDays' (%s) must be a number of days from 0 (never) to %d", v, store.MaxPasswordExpiryDays)
			}
			u.Policy.PasswordExpirationDays = &n
		}
	}
	if cl.has("sessionTimeout") {
		u.Policy.SessionTimeout = 0
		if v := cl.str("sessionTimeout"); v != "" {
			n, err := strconv.Atoi(v)
			d := time.Duration(n) * time.Second
			if err != nil || d < store.MinSessionTimeout || d > store.MaxSessionTimeout {
				return invalid("Value of parameter 'sessionTimeout' (%s) must be a number of seconds from %d to %d", v,
					int(store.MinSessionTimeout.Seconds()), int(store.MaxSessionTimeout.Seconds()))
			}
			u.Policy.SessionTimeout = d
		}
	}
	if cl.has("lockoutThreshold") {
		u.Policy.LockoutThreshold = nil
		if v := cl.str("lockoutThreshold"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > store.MaxLockoutThreshold {
				return invalid("Value of parameter 'lockoutThreshold' (%s) must be a number of failures from 0 (never) to %d", v, store.MaxLockoutThreshold)
			}
			u.Policy.LockoutThreshold = &n
		}
	}
	if cl.has("trustedHosts") {
		var list []string
		for _, h := range strings.Split(cl.str("trustedHosts"), ",") {
			if h = strings.TrimSpace(h); h != "" {
				list = append(list, h)
			}
		}
		hosts, err := store.ParseTrustedHosts(list)
		if err != nil {
			return err
		}
		u.Policy.TrustedHosts = hosts
	}
	return nil
}

// mayChange refuses changes to a user holding permissions the caller lacks.
func (cl *call) mayChange(tx store.Tx, u store.User) error {
	g, err := cl.guard(tx)
	if err != nil {
		return err
	}
	return g.User(u)
}

// mayChangeGroup refuses changes to a group granting permissions the caller
// lacks, and to its members.
func (cl *call) mayChangeGroup(tx store.Tx, grp store.Group) error {
	g, err := cl.guard(tx)
	if err != nil {
		return err
	}
	return g.Group(grp)
}

// mayGrant refuses granting (or revoking) a permission the caller lacks.
func (cl *call) mayGrant(tx store.Tx, perm string, grant bool) error {
	g, err := cl.guard(tx)
	if err != nil {
		return err
	}
	if grant {
		return g.Grant(perm)
	}
	return g.Revoke(perm)
}
