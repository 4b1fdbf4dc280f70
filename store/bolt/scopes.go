package bolt

import (
	"iter"

	"github.com/scimgate/scimgate/store"
)

// Projects, templates and organisations are few and rarely written: they are
// stored as JSON, with a unique folded-name index for the first two.

// named is a record bucket with a unique case-insensitive name index.
type named struct{ records, index bucket }

var (
	projectBuckets  = named{bProjects, bProjectKey}
	templateBuckets = named{bTemplates, bTemplateName}
)

// put stores the encoded record raw under id, indexed by name; oldName is
// the name it had (empty if new). A name taken by another record is
// EConflict with msg.
func (t *tx) put(n named, id, name, oldName string, raw []byte, msg string) error {
	fold := []byte(store.FoldLogin(name))
	if owner := t.get(n.index, fold); owner != nil && string(owner) != id {
		return store.Errorf(store.EConflict, "%s", msg)
	}
	if oldName != "" {
		if err := t.b(n.index).Delete([]byte(store.FoldLogin(oldName))); err != nil {
			return err
		}
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
	return t.get(n.index, []byte(store.FoldLogin(name)))
}

// --- projects

func (t *tx) Project(id string) (store.Project, error) {
	return record(t, bProjects, id, decodeProject)
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
	raw, err := encodeProject(p)
	if err != nil {
		return err
	}
	return t.put(projectBuckets, p.ID, p.Key, old.Key, raw, "Project key '"+p.Key+"' is already used")
}

func (t *tx) DeleteProject(id string) error {
	p, err := t.Project(id)
	if err != nil {
		return err
	}
	return t.remove(projectBuckets, id, p.Key)
}

func (t *tx) Projects() iter.Seq2[store.Project, error] {
	return walkIndex(t, bProjectKey, bProjects, decodeProject)
}

// --- templates

func (t *tx) Template(id string) (store.Template, error) {
	return record(t, bTemplates, id, decodeTemplate)
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
	raw, err := encodeTemplate(tpl)
	if err != nil {
		return err
	}
	return t.put(templateBuckets, tpl.ID, tpl.Name, old.Name, raw, "A template with the name '"+tpl.Name+"' already exists (case insensitive).")
}

func (t *tx) DeleteTemplate(id string) error {
	tpl, err := t.Template(id)
	if err != nil {
		return err
	}
	return t.remove(templateBuckets, id, tpl.Name)
}

func (t *tx) Templates() iter.Seq2[store.Template, error] {
	return walkIndex(t, bTemplateName, bTemplates, decodeTemplate)
}

// --- organisations

func (t *tx) Organization(key string) (store.Organization, error) {
	return record(t, bOrgs, key, decodeOrganization)
}

func (t *tx) PutOrganization(o store.Organization) error {
	raw, err := encodeOrganization(o)
	if err != nil {
		return err
	}
	return t.b(bOrgs).Put([]byte(o.Key), raw)
}

func (t *tx) Organizations() iter.Seq2[store.Organization, error] {
	return walk(t.b(bOrgs), "", decodeOrganization)
}
