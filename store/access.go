package store

import (
	"fmt"
	"iter"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// The rules of per-project access: projects, their permissions, permission
// templates and organisations. Like every rule, they run inside one Update.

// CreateProject stores a new project and applies the template chosen for it
// (see TemplateFor); the template's project-creator entries go to p.Creator.
func CreateProject(tx Tx, p Project) (Project, error) {
	if p.ID == "" {
		p.ID = NewID()
	}
	p.Created, p.Updated = Now(), Now()
	if err := tx.PutProject(p); err != nil {
		return Project{}, err
	}
	tpl, ok, err := TemplateFor(tx, p)
	if err != nil || !ok {
		return p, err
	}
	return ApplyTemplate(tx, p, tpl, p.Creator)
}

// TemplateFor returns the template a new project gets: the one of its
// organisation whose key pattern matches its key, else the organisation's
// default template. More than one match is an error, as in SonarQube.
func TemplateFor(tx Tx, p Project) (Template, bool, error) {
	var matches []Template
	var def *Template
	for t, err := range tx.Templates() {
		if err != nil {
			return Template{}, false, err
		}
		if t.Organization != p.Organization {
			continue
		}
		if t.KeyPattern != "" && MatchesKey(t.KeyPattern, p.Key) {
			matches = append(matches, t)
		}
		if t.Default {
			def = &t
		}
	}
	switch {
	case len(matches) > 1:
		names := make([]string, len(matches))
		for i, t := range matches {
			names[i] = `"` + t.Name + `"`
		}
		return Template{}, false, Errorf(EInvalid, "The \"%s\" key matches multiple permission templates: %s. A system administrator must update these templates so that only one of them matches the key.",
			p.Key, strings.Join(names, ", "))
	case len(matches) == 1:
		return matches[0], true, nil
	case def != nil:
		return *def, true, nil
	}
	return Template{}, false, nil
}

// MatchesKey reports whether a template's key pattern matches a whole key.
func MatchesKey(pattern, key string) bool {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	return err == nil && re.MatchString(key)
}

// ApplyTemplate replaces every permission on p with the template's entries,
// skipping what p's visibility forbids (Anyone on a private project) or
// implies (Browse and See Source Code on a public one). Project-creator
// entries go to creatorID (none when empty: SonarQube applies them only when
// a project is created).
func ApplyTemplate(tx Tx, p Project, tpl Template, creatorID string) (Project, error) {
	if err := revokeAll(tx, func(perm string) PermKey { return OnProject(p.ID, perm) }); err != nil {
		return Project{}, err
	}
	for _, perm := range ProjectPermissions {
		for _, s := range slices.Collect(tx.Holders(InTemplate(tpl.ID, perm))) {
			if s.ID == AnyoneGroup && p.Private || !p.Private && slices.Contains(PublicPermissions, perm) {
				continue
			}
			if s == (UserSubject(ProjectCreator)) {
				if creatorID == "" {
					continue
				}
				s.ID = creatorID
			}
			if err := tx.Grant(s, OnProject(p.ID, perm)); err != nil {
				return Project{}, err
			}
		}
	}
	p.Template, p.Updated = tpl.ID, Now()
	return p, tx.PutProject(p)
}

// revokeAll revokes every project permission key(perm) from its holders.
func revokeAll(tx Tx, key func(perm string) PermKey) error {
	for _, perm := range ProjectPermissions {
		k := key(perm)
		for _, s := range slices.Collect(tx.Holders(k)) {
			if err := tx.Revoke(s, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// RemoveProject revokes every permission on p and deletes it.
func RemoveProject(tx Tx, p Project) error {
	if err := revokeAll(tx, func(perm string) PermKey { return OnProject(p.ID, perm) }); err != nil {
		return err
	}
	return tx.DeleteProject(p.ID)
}

// RemoveTemplate removes a template's entries and the template.
func RemoveTemplate(tx Tx, t Template) error {
	if err := revokeAll(tx, func(perm string) PermKey { return InTemplate(t.ID, perm) }); err != nil {
		return err
	}
	return tx.DeleteTemplate(t.ID)
}

// SetDefaultTemplate makes t the default template of its organisation.
func SetDefaultTemplate(tx Tx, t Template) error {
	var others []Template
	for o, err := range tx.Templates() {
		if err != nil {
			return err
		}
		if o.Default && o.ID != t.ID && o.Organization == t.Organization {
			others = append(others, o)
		}
	}
	for _, o := range others {
		o.Default, o.Updated = false, Now()
		if err := tx.PutTemplate(o); err != nil {
			return err
		}
	}
	t.Default, t.Updated = true, Now()
	return tx.PutTemplate(t)
}

// SetVisibility makes p private or public as SonarQube does: going private
// drops Anyone's permissions and gives Browse and See Source Code to every
// user and group holding a permission on p; going public drops those two,
// which everyone then holds.
func SetVisibility(tx Tx, p Project, private bool) (Project, error) {
	if p.Private == private {
		return p, nil
	}
	if private {
		holders := map[Subject]bool{}
		for _, perm := range ProjectPermissions {
			for s := range tx.Holders(OnProject(p.ID, perm)) {
				holders[s] = true
			}
		}
		for s := range holders {
			if s.ID == AnyoneGroup {
				if err := revokeSubject(tx, s, p); err != nil {
					return Project{}, err
				}
				continue
			}
			for _, perm := range PublicPermissions {
				if err := tx.Grant(s, OnProject(p.ID, perm)); err != nil {
					return Project{}, err
				}
			}
		}
	} else {
		for _, perm := range PublicPermissions {
			k := OnProject(p.ID, perm)
			for _, s := range slices.Collect(tx.Holders(k)) {
				if err := tx.Revoke(s, k); err != nil {
					return Project{}, err
				}
			}
		}
	}
	p.Private, p.Updated = private, Now()
	return p, tx.PutProject(p)
}

func revokeSubject(tx Tx, s Subject, p Project) error {
	for _, perm := range ProjectPermissions {
		if err := tx.Revoke(s, OnProject(p.ID, perm)); err != nil {
			return err
		}
	}
	return nil
}

// HasProjectPermission reports whether an active user holds perm on p:
// implied on a public project for Browse and See Source Code, otherwise
// granted to the user, to Anyone (public projects only) or to one of its
// groups. A private project of an organisation also requires membership.
func HasProjectPermission(tx Tx, userID string, p Project, perm string) (bool, error) {
	if !p.Private && slices.Contains(PublicPermissions, perm) {
		return true, nil
	}
	if p.Private && p.Organization != "" {
		if ok, err := IsOrgMember(tx, p.Organization, userID); err != nil || !ok {
			return false, err
		}
	}
	for s := range tx.Holders(OnProject(p.ID, perm)) {
		switch {
		case s.IsUser() && s.ID == userID, !s.IsUser() && s.ID == AnyoneGroup && !p.Private:
			return true, nil
		case !s.IsUser() && s.ID != AnyoneGroup:
			if ok, err := IsMember(tx, s.ID, userID); err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}

// EnsureProjectAdmin fails with msg when no active user administers p any
// more. Call it after removing an admin permission, in the same Update.
func EnsureProjectAdmin(tx Tx, p Project, msg string) error {
	for s := range tx.Holders(OnProject(p.ID, PermAdmin)) {
		ids := slices.Values([]string{s.ID})
		if !s.IsUser() {
			ids = Members(tx, s.ID)
		}
		for u, err := range ReadUsers(tx, ids) {
			if err != nil {
				return err
			}
			if u.Active {
				return nil
			}
		}
	}
	return Errorf(EInvalid, "%s", msg)
}

// IsOrgMember reports whether a user is a member of organisation org.
func IsOrgMember(tx Tx, org, userID string) (bool, error) {
	perms, err := tx.Permissions(UserSubject(userID))
	return slices.Contains(perms, MemberOf(org)), err
}

// CheckOrgMember fails unless u is a member of org.
func CheckOrgMember(tx Tx, org string, u User) error {
	if org == "" {
		return nil
	}
	ok, err := IsOrgMember(tx, org, u.ID)
	if err == nil && !ok {
		err = Errorf(EInvalid, "User '%s' is not member of organization '%s'", u.Login, org)
	}
	return err
}

// AddOrgMember makes u a member of org.
func AddOrgMember(tx Tx, org string, u User) error {
	return tx.Grant(UserSubject(u.ID), MemberOf(org))
}

// RemoveOrgMember ends u's membership of org, with its memberships of the
// organisation's groups and its permissions on the organisation's projects
// and in its templates. The instance and every project keep an active
// administrator, or nothing is removed.
func RemoveOrgMember(tx Tx, org string, u User) error {
	held, err := HeldKeys(tx, u.ID)
	if err != nil {
		return err
	}
	s := UserSubject(u.ID)
	perms, err := tx.Permissions(s)
	if err != nil {
		return err
	}
	for _, k := range perms {
		scope, id, _ := ParsePerm(k)
		var inOrg bool
		switch scope {
		case "project":
			p, err := tx.Project(id)
			inOrg = err == nil && p.Organization == org
		case "template":
			t, err := tx.Template(id)
			inOrg = err == nil && t.Organization == org
		case "org":
			inOrg = id == org
		}
		if inOrg {
			if err := tx.Revoke(s, k); err != nil {
				return err
			}
		}
	}
	var groups []string
	for gid := range GroupsOf(tx, u.ID) {
		if g, err := tx.Group(gid); err == nil && g.Organization == org {
			groups = append(groups, gid)
		}
	}
	for _, gid := range groups {
		if err := tx.RemoveMember(gid, u.ID); err != nil {
			return err
		}
	}
	return EnsureAdmins(tx, held, "The last administrator user cannot be removed", "The last administrator of project '%s' cannot be removed")
}

// AccessPath is one way a user holds a permission on a project.
type AccessPath struct {
	Via      string // "public", "user", "group" or "anyone"
	Group    string // for "group"
	Template string // the template the grant came from, if it did
}

// Grantees returns, for every user holding perm on p through a grant (to the
// user, to Anyone or to one of its groups), how it does. Users of a private
// project of an organisation who are not members are left out, and inactive
// users always are. Anyone's grant is reported under the key AnyoneGroup.
func Grantees(tx Tx, p Project, perm string) (map[string][]AccessPath, error) {
	fromTemplate := map[Subject]bool{}
	tpl, tplErr := tx.Template(p.Template)
	if p.Template != "" && tplErr == nil {
		for s := range tx.Holders(InTemplate(p.Template, perm)) {
			fromTemplate[s] = true
		}
	}
	path := func(s Subject, via, group string) AccessPath {
		ap := AccessPath{Via: via, Group: group}
		if fromTemplate[s] {
			ap.Template = tpl.Name
		}
		return ap
	}
	out := map[string][]AccessPath{}
	add := func(uid string, ap AccessPath) error {
		u, err := tx.User(uid)
		if IsNotFound(err) || err == nil && !u.Active {
			return nil
		}
		if err != nil {
			return err
		}
		if p.Private && p.Organization != "" {
			if ok, err := IsOrgMember(tx, p.Organization, uid); err != nil || !ok {
				return err
			}
		}
		out[uid] = append(out[uid], ap)
		return nil
	}
	for _, s := range slices.Collect(tx.Holders(OnProject(p.ID, perm))) {
		switch {
		case s.IsUser():
			if err := add(s.ID, path(s, "user", "")); err != nil {
				return nil, err
			}
		case s.ID == AnyoneGroup:
			if !p.Private {
				out[AnyoneGroup] = append(out[AnyoneGroup], path(s, "anyone", ""))
			}
		default:
			g, err := tx.Group(s.ID)
			if err != nil {
				return nil, err
			}
			for _, uid := range slices.Collect(Members(tx, s.ID)) {
				if err := add(uid, path(s, "group", g.Name)); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, paths := range out {
		sort.Slice(paths, func(i, j int) bool { return paths[i].Via+paths[i].Group < paths[j].Via+paths[j].Group })
	}
	return out, nil
}

// DescribePerm renders a permission key for people: "admin", "admin on
// project 'k'", "user in template 't'", "member of organization 'o'".
func DescribePerm(tx Tx, key PermKey) string {
	scope, id, perm := ParsePerm(key)
	switch scope {
	case "project":
		if p, err := tx.Project(id); err == nil {
			id = p.Key
		}
		return fmt.Sprintf("%s on project '%s'", perm, id)
	case "template":
		if t, err := tx.Template(id); err == nil {
			id = t.Name
		}
		return fmt.Sprintf("%s in template '%s'", perm, id)
	case "org":
		return fmt.Sprintf("member of organization '%s'", id)
	}
	return string(key)
}

// UserAccess is an active user holding a project permission, and how.
type UserAccess struct {
	User User
	Via  []AccessPath
}

// ProjectAccess returns how Anyone holds perm on p, and the users who hold
// it, in login order, with how they do. On a public project everyone holds
// Browse and See Source Code ("public"); the users are then streamed from
// the whole user list, otherwise collected from the grants.
func ProjectAccess(tx Tx, p Project, perm string) ([]AccessPath, iter.Seq2[UserAccess, error], error) {
	grantees, err := Grantees(tx, p, perm)
	if err != nil {
		return nil, nil, err
	}
	anyone := grantees[AnyoneGroup]
	public := !p.Private && slices.Contains(PublicPermissions, perm)
	if public || len(anyone) > 0 {
		return anyone, func(yield func(UserAccess, error) bool) {
			for u, err := range tx.UsersByLogin() {
				if err != nil {
					yield(UserAccess{}, err)
					return
				}
				if !u.Active {
					continue
				}
				var via []AccessPath
				if public {
					via = append(via, AccessPath{Via: "public"})
				}
				via = append(append(via, grantees[u.ID]...), anyone...)
				if !yield(UserAccess{u, via}, nil) {
					return
				}
			}
		}, nil
	}
	var all []UserAccess
	for u, err := range ReadUsers(tx, maps.Keys(grantees)) {
		if err != nil {
			return nil, nil, err
		}
		all = append(all, UserAccess{u, grantees[u.ID]})
	}
	sort.Slice(all, func(i, j int) bool { return FoldLogin(all[i].User.Login) < FoldLogin(all[j].User.Login) })
	return anyone, func(yield func(UserAccess, error) bool) {
		for _, a := range all {
			if !yield(a, nil) {
				return
			}
		}
	}, nil
}
