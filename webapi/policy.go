package webapi

import (
	"strconv"
	"strings"
	"time"

	"github.com/scimgate/scimgate/store"
)

// policyParams are scimgate's per-user settings on users/create and
// users/update. An empty value clears a setting.
var policyParams = []param{
	{Key: "locale", Desc: "Language of the user interface, one of " + strings.Join(store.Locales, ", ") + ". Empty: the instance default.", Since: "scimgate 1.1", Example: "en-US"},
	{Key: "passwordExpirationDays", Desc: "Days after which the user's password expires, 0 for never. Empty: the instance setting. Local users only.", Since: "scimgate 1.1", Example: "90"},
	{Key: "sessionTimeout", Desc: "Idle time in seconds after which the user's sessions end, 60 to 604800. Empty: the instance setting. Local users only.", Since: "scimgate 1.1", Example: "3600"},
	{Key: "lockoutThreshold", Desc: "Failed password logins that lock the user, 0 (never) to 5. Empty: the instance setting. Local users only.", Since: "scimgate 1.1", Example: "3"},
	{Key: "trustedHosts", Desc: "Comma-separated IP addresses and CIDR ranges from which the user's password, sessions and tokens are accepted. Empty: anywhere.", Since: "scimgate 1.1", Example: "10.0.0.0/8,192.0.2.7", MaxLen: 4000},
}

// settings parses the per-user settings the request carries; the rules on
// who may have which are store's (store.SettingsChange).
func (cl *call) settings() (store.SettingsChange, error) {
	var c store.SettingsChange
	if cl.has("locale") {
		c.Locale = store.Change[string]{Set: true, To: cl.str("locale")}
	}
	optionalInt := func(key string, max int, msg string) (store.Change[*int], error) {
		if !cl.has(key) {
			return store.Change[*int]{}, nil
		}
		ch := store.Change[*int]{Set: true}
		if v := cl.str(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > max {
				return ch, invalid(msg, v, max)
			}
			ch.To = &n
		}
		return ch, nil
	}
	var err error
	if c.PasswordExpirationDays, err = optionalInt("passwordExpirationDays", store.MaxPasswordExpiryDays,
		"Value of parameter 'passwordExpirationDays' (%s) must be a number of days from 0 (never) to %d"); err != nil {
		return c, err
	}
	if cl.has("sessionTimeout") {
		c.SessionTimeout.Set = true
		if v := cl.str("sessionTimeout"); v != "" {
			n, err := strconv.Atoi(v)
			d := time.Duration(n) * time.Second
			if err != nil || d < store.MinSessionTimeout || d > store.MaxSessionTimeout {
				return c, invalid("Value of parameter 'sessionTimeout' (%s) must be a number of seconds from %d to %d", v,
					int(store.MinSessionTimeout.Seconds()), int(store.MaxSessionTimeout.Seconds()))
			}
			c.SessionTimeout.To = d
		}
	}
	if c.LockoutThreshold, err = optionalInt("lockoutThreshold", store.MaxLockoutThreshold,
		"Value of parameter 'lockoutThreshold' (%s) must be a number of failures from 0 (never) to %d"); err != nil {
		return c, err
	}
	if cl.has("trustedHosts") {
		c.TrustedHosts.Set = true
		for _, h := range strings.Split(cl.str("trustedHosts"), ",") {
			if h = strings.TrimSpace(h); h != "" {
				c.TrustedHosts.To = append(c.TrustedHosts.To, h)
			}
		}
	}
	return c, nil
}
