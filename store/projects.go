package store

import (
	"context"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// The project use cases of the Web API (api/projects, api/project_tags,
// api/project_badges).

// projectKeyRe is what a project key may be: alphanumerics, '-', '_', '.'
// and ':', with at least one non-digit.
var projectKeyRe = regexp.MustCompile(`^[a-zA-Z0-9:\-_.]*[a-zA-Z:\-_.][a-zA-Z0-9:\-_.]*$`)

// tagRe is what a project tag may be.
var tagRe = regexp.MustCompile(`^[a-z0-9+\-#.]+$`)

func checkProjectKey(key string) error {
	if !projectKeyRe.MatchString(key) {
		return Errorf(EInvalid, "Malformed key for Project: '%s'. Allowed characters are alphanumeric, '-', '_', '.' and ':', with at least one non-digit.", key)
	}
	return nil
}

// NewProjectRequest is what creating a project takes.
type NewProjectRequest struct {
	Key, Name, Organization string
	Private                 bool
}

// CreateProjectAs creates a project for the caller (admin, or holding
// provisioning and, in an organisation, membership) and applies its
// template, whose project-creator entries go to the caller. The same
// creation by the same caller again answers the existing project, so a
// client that lost the answer or failed in a follow-up call (the Terraform
// provider sets tags right after creating) can retry.
func CreateProjectAs(ctx context.Context, s Store, caller Caller, req NewProjectRequest) (Project, error) {
	if err := checkProjectKey(req.Key); err != nil {
		return Project{}, err
	}
	if req.Name == "" {
		return Project{}, Errorf(EInvalid, "The 'name' parameter is missing")
	}
	var out Project
	err := s.Update(ctx, func(tx Tx) error {
		if err := CheckOrganization(tx, req.Organization); err != nil {
			return err
		}
		if !caller.Admin {
			ok, err := HasPermission(tx, caller.ID, PermProvisioning)
			if err != nil || !ok {
				return firstErr(err, Errorf(EForbidden, "Insufficient privileges"))
			}
			if err := CheckOrgMember(tx, req.Organization, caller.User); err != nil {
				return err
			}
		}
		want := Project{Key: req.Key, Name: req.Name, Private: req.Private, Organization: req.Organization, Creator: caller.ID}
		if other, err := tx.ProjectByKey(req.Key); err == nil {
			if sameCreation(other, want) {
				out = other
				return nil
			}
			return Errorf(EInvalid, "Could not create Project with key: \"%s\". A similar key already exists: \"%s\"", req.Key, other.Key)
		}
		var err error
		out, err = CreateProject(tx, want)
		return err
	})
	return out, err
}

// sameCreation reports whether p is what a creation of want by the same
// caller made.
func sameCreation(p, want Project) bool {
	return p.Key == want.Key && p.Name == want.Name && p.Private == want.Private &&
		p.Organization == want.Organization && p.Creator != "" && p.Creator == want.Creator
}

// ProjectFor finds the project of exactly key and checks the caller holds
// perm on it (admins hold every one); an unknown key is notFound.
func ProjectFor(tx Tx, caller Caller, key, perm string, notFound error) (Project, error) {
	p, err := tx.ProjectByKey(key)
	if err != nil || p.Key != key {
		return p, notFound
	}
	if caller.Admin {
		return p, nil
	}
	ok, err := HasProjectPermission(tx, caller.ID, p, perm)
	if err == nil && !ok {
		err = Errorf(EForbidden, "Insufficient privileges")
	}
	return p, err
}

// administered finds a project the caller administers.
func administered(tx Tx, caller Caller, key string) (Project, error) {
	return ProjectFor(tx, caller, key, PermAdmin, Errorf(ENotFound, "Project '%s' not found", key))
}

// DeleteProjectAs deletes a project and its permissions.
func DeleteProjectAs(ctx context.Context, s Store, caller Caller, key string) error {
	return s.Update(ctx, func(tx Tx) error {
		p, err := administered(tx, caller, key)
		if err != nil {
			return err
		}
		return RemoveProject(tx, p)
	})
}

// SetProjectVisibility makes a project private or public (see SetVisibility).
func SetProjectVisibility(ctx context.Context, s Store, caller Caller, key string, private bool) error {
	return s.Update(ctx, func(tx Tx) error {
		p, err := administered(tx, caller, key)
		if err != nil {
			return err
		}
		_, err = SetVisibility(tx, p, private)
		return err
	})
}

// SetProjectTags sets a project's tags: lower-cased, trimmed, deduplicated
// and sorted; empty entries are dropped (none at all clears them).
func SetProjectTags(ctx context.Context, s Store, caller Caller, key string, tags []string) error {
	var clean []string
	for _, t := range tags {
		if t = strings.ToLower(strings.TrimSpace(t)); t == "" {
			continue
		}
		if !tagRe.MatchString(t) {
			return Errorf(EInvalid, "Tag '%s' is invalid. Tags accept only the characters: a-z, 0-9, '+', '-', '#', '.'", t)
		}
		if !slices.Contains(clean, t) {
			clean = append(clean, t)
		}
	}
	sort.Strings(clean)
	return s.Update(ctx, func(tx Tx) error {
		p, err := administered(tx, caller, key)
		if err != nil {
			return err
		}
		p.Tags, p.Updated = clean, Now()
		return tx.PutProject(p)
	})
}

// RenameProjectKey changes a project's key; its permissions, tags and
// badge token stay.
func RenameProjectKey(ctx context.Context, s Store, caller Caller, from, to string) error {
	if err := checkProjectKey(to); err != nil {
		return err
	}
	return s.Update(ctx, func(tx Tx) error {
		p, err := administered(tx, caller, from)
		if err != nil {
			return err
		}
		if other, err := tx.ProjectByKey(to); err == nil && other.ID != p.ID {
			return Errorf(EInvalid, "Impossible to update key: a component with key \"%s\" already exists.", to)
		}
		p.Key, p.Updated = to, Now()
		return tx.PutProject(p)
	})
}

// msgNoBadgeProject is SonarQube's answer for an unknown badge project.
const msgNoBadgeProject = "Project or Application not found"

// newBadgeToken returns a new badge token secret.
func newBadgeToken() string { return "sqb_" + strings.TrimPrefix(NewTokenSecret(), "squ_") }

// BadgeToken returns a project's badge token, creating it when there is
// none; the caller needs Browse.
func BadgeToken(ctx context.Context, s Store, caller Caller, key string) (string, error) {
	var token string
	err := s.Update(ctx, func(tx Tx) error {
		p, err := ProjectFor(tx, caller, key, PermBrowse, Errorf(EInvalid, msgNoBadgeProject))
		if err != nil {
			return err
		}
		if token = p.BadgeToken; token != "" {
			return nil
		}
		token = newBadgeToken()
		p.BadgeToken = token
		return tx.PutProject(p)
	})
	return token, err
}

// RenewBadgeToken replaces a project's badge token; the caller administers it.
func RenewBadgeToken(ctx context.Context, s Store, caller Caller, key string) error {
	return s.Update(ctx, func(tx Tx) error {
		p, err := ProjectFor(tx, caller, key, PermAdmin, Errorf(EInvalid, msgNoBadgeProject))
		if err != nil {
			return err
		}
		p.BadgeToken = newBadgeToken()
		return tx.PutProject(p)
	})
}

// maxBulkProjects bounds the keys a bulk action takes.
const maxBulkProjects = 1000

// ProjectFilter selects projects for bulk actions (SonarQube's q, projects,
// qualifiers, visibility, analyzedBefore). scimgate records no analyses:
// every project is "provisioned only", and AnalyzedBefore selects none.
type ProjectFilter struct {
	Query          string   // part of the key or name
	Keys           []string // at most the first 1,000 are used
	Qualifiers     []string // TRK (default), VW, APP
	Visibility     string   // "", "public" or "private"
	AnalyzedBefore *time.Time
}

// MatchProjects returns the projects f selects.
func MatchProjects(tx Tx, f ProjectFilter) ([]Project, error) {
	if f.AnalyzedBefore != nil {
		if f.AnalyzedBefore.After(Now()) {
			return nil, Errorf(EInvalid, "Provided value for parameter analyzedBefore must not be a future date")
		}
		return nil, nil
	}
	qualifiers := f.Qualifiers
	if len(qualifiers) == 0 {
		qualifiers = []string{"TRK"}
	}
	for _, q := range qualifiers {
		if !slices.Contains([]string{"TRK", "VW", "APP"}, strings.TrimSpace(q)) {
			return nil, Errorf(EInvalid, "Value of parameter 'qualifiers' (%s) must be one of: [TRK, VW, APP]", q)
		}
	}
	if !slices.Contains(qualifiers, "TRK") {
		return nil, nil // no portfolios or applications here
	}
	keys := f.Keys
	if len(keys) > maxBulkProjects {
		keys = keys[:maxBulkProjects]
	}
	q := strings.ToLower(f.Query)
	var out []Project
	for p, err := range tx.Projects() {
		if err != nil {
			return nil, err
		}
		if q != "" && !strings.Contains(strings.ToLower(p.Key), q) && !strings.Contains(strings.ToLower(p.Name), q) ||
			f.Visibility != "" && p.Visibility() != f.Visibility || keys != nil && !slices.Contains(keys, p.Key) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// BulkDeleteProjects deletes the projects f selects; it needs at least
// one of a query, keys or a date.
func BulkDeleteProjects(ctx context.Context, s Store, caller Caller, f ProjectFilter) error {
	if err := requireAdmin(caller); err != nil {
		return err
	}
	if f.AnalyzedBefore == nil && len(f.Keys) == 0 && f.Query == "" {
		return Errorf(EInvalid, "At least one parameter among analyzedBefore, projects and q must be provided")
	}
	return s.Update(ctx, func(tx Tx) error {
		projects, err := MatchProjects(tx, f)
		if err != nil {
			return err
		}
		for _, p := range projects {
			if err := RemoveProject(tx, p); err != nil {
				return err
			}
		}
		return nil
	})
}
