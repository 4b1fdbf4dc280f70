package store

import (
	"context"
	"regexp"
	"strings"
)

// The permission template use cases of the Web API (api/permissions
// *_template*). Templates are managed by administrators; applying one to a
// project also by the project's administrators.

// TemplateRef names a template by id or by name (case-insensitive): exactly
// one of the two.
type TemplateRef struct{ ID, Name string }

// FindTemplate resolves a template reference with SonarQube's messages.
func FindTemplate(tx Tx, ref TemplateRef) (Template, error) {
	if (ref.ID == "") == (ref.Name == "") {
		return Template{}, Errorf(EInvalid, "Template name or template id must be provided, not both.")
	}
	if ref.ID != "" {
		t, err := tx.Template(ref.ID)
		if err != nil {
			return t, Errorf(ENotFound, "Permission template with id '%s' is not found", ref.ID)
		}
		return t, nil
	}
	t, err := tx.TemplateByName(ref.Name)
	if err != nil {
		return t, Errorf(ENotFound, "Permission template with name '%s' is not found (case insensitive)", ref.Name)
	}
	return t, nil
}

// requireAdmin refuses callers without global admin.
func requireAdmin(caller Caller) error {
	if !caller.Admin {
		return Errorf(EForbidden, "Insufficient privileges")
	}
	return nil
}

// checkKeyPattern refuses a key pattern that is no regular expression.
func checkKeyPattern(pattern string) error {
	if _, err := regexp.Compile(pattern); pattern != "" && err != nil {
		return Errorf(EInvalid, "The 'projectKeyPattern' parameter must be a valid Java regex. '%s' was passed", pattern)
	}
	return nil
}

// onTemplate runs fn on the template ref names, in one Update, for an
// administrator.
func onTemplate(ctx context.Context, s Store, caller Caller, ref TemplateRef, fn func(Tx, Template) error) error {
	if err := requireAdmin(caller); err != nil {
		return err
	}
	return s.Update(ctx, func(tx Tx) error {
		t, err := FindTemplate(tx, ref)
		if err != nil {
			return err
		}
		return fn(tx, t)
	})
}

// CreateTemplate creates a permission template, in an organisation if
// org is set.
func CreateTemplate(ctx context.Context, s Store, caller Caller, name, description, pattern, org string) (Template, error) {
	if err := requireAdmin(caller); err != nil {
		return Template{}, err
	}
	if name == "" {
		return Template{}, Errorf(EInvalid, "The template name must not be blank")
	}
	if err := checkKeyPattern(pattern); err != nil {
		return Template{}, err
	}
	var out Template
	err := s.Update(ctx, func(tx Tx) error {
		if err := CheckOrganization(tx, org); err != nil {
			return err
		}
		now := Now()
		out = Template{ID: NewID(), Name: name, Description: description, KeyPattern: pattern, Organization: org, Created: now, Updated: now}
		return tx.PutTemplate(out)
	})
	return out, err
}

// UpdateTemplate changes a template's name, description or key pattern
// (nil: left as it is).
func UpdateTemplate(ctx context.Context, s Store, caller Caller, id string, name, description, pattern *string) (Template, error) {
	if err := requireAdmin(caller); err != nil {
		return Template{}, err
	}
	var out Template
	err := s.Update(ctx, func(tx Tx) error {
		t, err := tx.Template(id)
		if err != nil {
			return Errorf(ENotFound, "Permission template with id '%s' is not found", id)
		}
		if name != nil {
			if *name == "" {
				return Errorf(EInvalid, "The template name must not be blank")
			}
			if other, err := tx.TemplateByName(*name); err == nil && other.ID != t.ID {
				return Errorf(EInvalid, "A template with the name '%s' already exists (case insensitive).", *name)
			}
			t.Name = *name
		}
		if description != nil {
			t.Description = *description
		}
		if pattern != nil {
			if err := checkKeyPattern(*pattern); err != nil {
				return err
			}
			t.KeyPattern = *pattern
		}
		t.Updated = Now()
		out = t
		return tx.PutTemplate(t)
	})
	return out, err
}

// DeletePermissionTemplate deletes a template and its entries; the default
// template stays.
func DeletePermissionTemplate(ctx context.Context, s Store, caller Caller, ref TemplateRef) error {
	return onTemplate(ctx, s, caller, ref, func(tx Tx, t Template) error {
		if t.Default {
			return Errorf(EInvalid, "It is not possible to delete the default permission template for projects")
		}
		return RemoveTemplate(tx, t)
	})
}

// TemplateEntry is an entry of a template: Permission for a user (Login), a
// group (Group; "anyone", any case, is Anyone) or the project creator.
type TemplateEntry struct {
	Login, Group   string
	ProjectCreator bool
	Permission     string
}

// ChangeTemplateEntry adds (add) or removes an entry of a template. Anyone
// never administers; users must be members of the template's organisation.
func ChangeTemplateEntry(ctx context.Context, s Store, caller Caller, ref TemplateRef, e TemplateEntry, add bool) error {
	return onTemplate(ctx, s, caller, ref, func(tx Tx, t Template) error {
		if err := CheckPermissionName(&Project{}, e.Permission); err != nil {
			return err
		}
		var sub Subject
		switch {
		case e.ProjectCreator:
			sub = UserSubject(ProjectCreator)
		case e.Login != "" || e.Group == "":
			u, err := activeUser(tx, e.Login, "User with login '%s' is not found'")
			if err != nil {
				return err
			}
			if add {
				if err := CheckOrgMember(tx, t.Organization, u); err != nil {
					return err
				}
			}
			sub = UserSubject(u.ID)
		case strings.EqualFold(e.Group, AnyoneGroup):
			if add && e.Permission == PermAdmin {
				return Errorf(EInvalid, "It is not possible to add the 'admin' permission to the group 'Anyone'.")
			}
			sub = GroupSubject(AnyoneGroup)
		default:
			g, err := localGroup(tx, e.Group, "No group with name '%s'")
			if err != nil {
				return err
			}
			sub = GroupSubject(g.ID)
		}
		if add {
			return tx.Grant(sub, InTemplate(t.ID, e.Permission))
		}
		return tx.Revoke(sub, InTemplate(t.ID, e.Permission))
	})
}

// MakeDefaultTemplate makes a template the default of its organisation.
func MakeDefaultTemplate(ctx context.Context, s Store, caller Caller, ref TemplateRef) error {
	return onTemplate(ctx, s, caller, ref, SetDefaultTemplate)
}

// ApplyTemplateTo replaces a project's permissions by a template's entries
// (the project creator's excepted: they apply at creation only). The
// project's administrators may do it too.
func ApplyTemplateTo(ctx context.Context, s Store, caller Caller, ref TemplateRef, projectID, projectKey string) error {
	return s.Update(ctx, func(tx Tx) error {
		t, err := FindTemplate(tx, ref)
		if err != nil {
			return err
		}
		if projectID == "" && projectKey == "" {
			return Errorf(EInvalid, "Project id or project key must be provided")
		}
		p, err := PermissionTarget(tx, caller, projectID, projectKey)
		if err != nil {
			return err
		}
		if t.Organization != p.Organization {
			return Errorf(EInvalid, "Template '%s' belongs to another organization than project '%s'", t.Name, p.Key)
		}
		_, err = ApplyTemplate(tx, *p, t, "")
		return err
	})
}

// BulkApplyTemplate applies a template to every project the filter selects
// (those of another organisation than the template's are skipped).
func BulkApplyTemplate(ctx context.Context, s Store, caller Caller, ref TemplateRef, f ProjectFilter) error {
	return onTemplate(ctx, s, caller, ref, func(tx Tx, t Template) error {
		projects, err := MatchProjects(tx, f)
		if err != nil {
			return err
		}
		for _, p := range projects {
			if p.Organization != t.Organization {
				continue
			}
			if _, err := ApplyTemplate(tx, p, t, ""); err != nil {
				return err
			}
		}
		return nil
	})
}
