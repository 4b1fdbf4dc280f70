package bolt

import (
	"encoding/json"
	"time"

	"github.com/scimgate/scimgate/store"
)

// The on-disk JSON form of the records stored as JSON (projects, templates,
// organisations, audit entries) lives here, in the backend, not on the
// domain types: the domain can change without moving the file format, and a
// change of the format shows up in this file. Users, groups and tokens use
// the binary codec (codec.go).

type projectRecord struct {
	ID           string    `json:"id"`
	Key          string    `json:"key"`
	Name         string    `json:"name"`
	Private      bool      `json:"private"`
	Organization string    `json:"organization,omitempty"`
	Template     string    `json:"template,omitempty"`
	Creator      string    `json:"creator,omitempty"`
	Tags         []string  `json:"tags,omitempty"`
	BadgeToken   string    `json:"badgeToken,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

func encodeProject(p store.Project) ([]byte, error) {
	return json.Marshal(projectRecord(p))
}

func decodeProject(b []byte) (store.Project, error) {
	var r projectRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Project{}, errCorrupt
	}
	return store.Project(r), nil
}

type templateRecord struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description,omitempty"`
	KeyPattern   string    `json:"projectKeyPattern,omitempty"`
	Organization string    `json:"organization,omitempty"`
	Default      bool      `json:"default"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

func encodeTemplate(t store.Template) ([]byte, error) {
	return json.Marshal(templateRecord(t))
}

func decodeTemplate(b []byte) (store.Template, error) {
	var r templateRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Template{}, errCorrupt
	}
	return store.Template(r), nil
}

type organizationRecord struct {
	Key         string    `json:"key"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created"`
}

func encodeOrganization(o store.Organization) ([]byte, error) {
	return json.Marshal(organizationRecord(o))
}

func decodeOrganization(b []byte) (store.Organization, error) {
	var r organizationRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.Organization{}, errCorrupt
	}
	return store.Organization(r), nil
}

type stateRecord struct {
	Active  bool `json:"active"`
	Managed bool `json:"managed"`
}

type auditRecord struct {
	Seq       uint64       `json:"seq"`
	Time      time.Time    `json:"time"`
	Actor     string       `json:"actor,omitempty"`
	Token     string       `json:"token,omitempty"`
	API       string       `json:"api"`
	Op        string       `json:"op"`
	Kind      string       `json:"kind"`
	Action    string       `json:"action"`
	Resource  string       `json:"resource,omitempty"`
	Name      string       `json:"name,omitempty"`
	Before    *stateRecord `json:"before,omitempty"`
	After     *stateRecord `json:"after,omitempty"`
	Detail    string       `json:"detail,omitempty"`
	Truncated bool         `json:"truncated,omitempty"`
}

func encodeAudit(e store.AuditEntry) ([]byte, error) {
	r := auditRecord{e.Seq, e.Time, e.Actor, e.Token, e.API, e.Op, e.Kind, e.Action, e.Resource, e.Name,
		(*stateRecord)(e.Before), (*stateRecord)(e.After), e.Detail, e.Truncated}
	return json.Marshal(r)
}

func decodeAudit(b []byte) (store.AuditEntry, error) {
	var r auditRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return store.AuditEntry{}, errCorrupt
	}
	return store.AuditEntry{Seq: r.Seq, Time: r.Time, Actor: r.Actor, Token: r.Token, API: r.API, Op: r.Op, Kind: r.Kind, Action: r.Action,
		Resource: r.Resource, Name: r.Name, Before: (*store.State)(r.Before), After: (*store.State)(r.After), Detail: r.Detail,
		Truncated: r.Truncated}, nil
}
