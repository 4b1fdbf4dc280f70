package store

import (
	"strings"
	"time"
)

// Project permissions, as SonarQube names them; "user" is Browse.
const (
	PermBrowse     = "user"
	PermCodeViewer = "codeviewer"
)

// ProjectPermissions lists every project permission in SonarQube's order.
var ProjectPermissions = []string{PermAdmin, PermCodeViewer, "issueadmin", "securityhotspotadmin", PermScan, PermBrowse}

// PublicPermissions are held by everyone on a public project: they are never
// stored for one, and cannot be removed from one.
var PublicPermissions = []string{PermCodeViewer, PermBrowse}

// Project is a SonarQube project: what project permissions apply to.
type Project struct {
	ID           string
	Key          string // unique case-insensitively
	Name         string
	Private      bool
	Organization string   // key; empty: none
	Template     string   // id of the permission template last applied
	Creator      string   // id of the user who created it: the project creator of templates
	Tags         []string // lower-case, sorted
	BadgeToken   string   // the secret of its badges (read-only, public by design)
	Created      time.Time
	Updated      time.Time
}

// Visibility is "private" or "public", as the Web API says it.
func (p Project) Visibility() string {
	if p.Private {
		return "private"
	}
	return "public"
}

// Template is a permission template: entries (subject, project permission)
// granted to a project when the template is applied to it.
type Template struct {
	ID           string
	Name         string // unique case-insensitively
	Description  string
	KeyPattern   string // regexp; new projects whose key matches get this template
	Organization string
	Default      bool // applied to new projects no pattern matches
	Created      time.Time
	Updated      time.Time
}

// Organization groups members, groups, projects and templates (SonarCloud's
// shape). Only members may join its groups or hold its projects' permissions.
type Organization struct {
	Key         string
	Name        string
	Description string
	Created     time.Time
}

// PermKey names a permission as stored and granted: a global permission is
// its name (Global); scoped ones, stored and queried through the same
// Grant, Revoke, Permissions and Holders, carry their scope (OnProject,
// InTemplate, MemberOf). Ids and organisation keys never contain ':'.
type PermKey string

// Global is the key of the global permission perm.
func Global(perm string) PermKey { return PermKey(perm) }

// OnProject is the key of perm on the project with id projectID.
func OnProject(projectID, perm string) PermKey { return PermKey("project:" + projectID + ":" + perm) }

// InTemplate is the key of a template entry: perm in template templateID.
func InTemplate(templateID, perm string) PermKey {
	return PermKey("template:" + templateID + ":" + perm)
}

// ProjectCreator is the pseudo-user of template entries that go to the user
// who creates a project ("project creator" in SonarQube): a user subject
// (UserSubject(ProjectCreator)) that is no stored user.
const ProjectCreator = "ProjectCreator"

// MemberOf is the key that makes a user a member of organisation org.
func MemberOf(org string) PermKey { return PermKey("org:" + org) }

// ParsePerm splits a permission key into its scope ("", "project",
// "template" or "org"), the scope's id, and the permission name.
func ParsePerm(key PermKey) (scope, id, perm string) {
	scope, rest, ok := strings.Cut(string(key), ":")
	if !ok {
		return "", "", string(key)
	}
	id, perm, _ = strings.Cut(rest, ":")
	return scope, id, perm
}
