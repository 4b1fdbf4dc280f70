package bolt

import (
	"encoding/json"
	"iter"

	"github.com/scimgate/scimgate/store"
)

// Projects, templates and organisations are few and rarely written: they are
// stored as JSON, with a unique folded-name index for the first two.

func decodeJSON[T any](b []byte) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return v, errCorrupt
	}
	return v, nil
}

// named is a record bucket with a unique case-insensitive name index.
type named struct{ records, index bucket }

var (
	projectBuckets  = named{bProjects, bProjectKey}
	templateBuckets = named{bTemplates, bTemplateName}
)

// put stores v under id, indexed by name; oldName is the name it had (empty
// if new). A name taken by another record is EConflict with msg.
func (t *tx) put(n named, id, name, oldName string, v any, msg string) error {
	fold := []byte(store.FoldLogin(name))
	if owner := t.b(n.index).Get(fold); owner != nil && string(owner) != id {
		return store.Errorf(store.EConflict, "%s", msg)
	}
	if oldName != "" {
		if err := t.b(n.index).Delete([]byte(store.FoldLogin(oldName))); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := t.b(n.index).Put(fold, []byte(id)); err != nil {
		return err
	}
	return t.b(n.records).Put([]byte(id), raw)
}

func (t *tx) remove(n named, id, name string) error {
	if err := t.b(n.index).Delete([]byte(store.FoldLogin(name))); err != nil {
		return err
	}
	return t.b(n.records).Delete([]byte(id))
}

func (t *tx) byName(n named, name string) []byte {
	return t.b(n.index).Get([]byte(store.FoldLogin(name)))
}

// --- projects

func (t *tx) Project(id string) (store.Project, error) {
	return record(t.b(bProjects), id, decodeJSON[store.Project])
}

func (t *tx) ProjectByKey(key string) (store.Project, error) {
	id := t.byName(projectBuckets, key)
	if id == nil {
		return store.Project{}, store.ErrNotFound
	}
	return t.Project(string(id))
}

func (t *tx) PutProject(p store.Project) error {
	old, _ := t.Project(p.ID)
	return t.put(projectBuckets, p.ID, p.Key, old.Key, p, "Project key '"+p.Key+"' is already used")
}

func (t *tx) DeleteProject(id string) error {
	p, err := t.Project(id)
	if err != nil {
		return err
	}
	return t.remove(projectBuckets, id, p.Key)
}

func (t *tx) Projects() iter.Seq2[store.Project, error] {
	return walkIndex(t.b(bProjectKey), t.b(bProjects), decodeJSON[store.Project])
}

// --- templates

func (t *tx) Template(id string) (store.Template, error) {
	return record(t.b(bTemplates), id, decodeJSON[store.Template])
}

func (t *tx) TemplateByName(name string) (store.Template, error) {
	id := t.byName(templateBuckets, name)
	if id == nil {
		return store.Template{}, store.ErrNotFound
	}
	return t.Template(string(id))
}

func (t *tx) PutTemplate(tpl store.Template) error {
	old, _ := t.Template(tpl.ID)
	return t.put(templateBuckets, tpl.ID, tpl.Name, old.Name, tpl, "A template with the name '"+tpl.Name+"' already exists (case insensitive).")
}

func (t *tx) DeleteTemplate(id string) error {
	tpl, err := t.Template(id)
	if err != nil {
		return err
	}
	return t.remove(templateBuckets, id, tpl.Name)
}

func (t *tx) Templates() iter.Seq2[store.Template, error] {
	return walkIndex(t.b(bTemplateName), t.b(bTemplates), decodeJSON[store.Template])
}

// --- organisations

func (t *tx) Organization(key string) (store.Organization, error) {
	return record(t.b(bOrgs), key, decodeJSON[store.Organization])
}

func (t *tx) PutOrganization(o store.Organization) error {
	raw, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return t.b(bOrgs).Put([]byte(o.Key), raw)
}

func (t *tx) Organizations() iter.Seq2[store.Organization, error] {
	return walk(t.b(bOrgs), "", decodeJSON[store.Organization])
}
