package scim_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// A replay is a recorded IdP request sequence (testdata/replay/*.json).
type replay struct {
	Description string `json:"description"`
	Steps       []step `json:"steps"`
}

type step struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Body    json.RawMessage   `json:"body,omitempty"`
	Status  int               `json:"status"`
	Expect  any               `json:"expect,omitempty"` // subset the body must contain
	Absent  []string          `json:"absent,omitempty"` // dotted paths the body must not have
	Headers map[string]string `json:"headers,omitempty"`
	Save    map[string]string `json:"save,omitempty"` // variable -> dotted path in the body
}

// TestReplays runs every recorded Okta and Entra sequence against a fresh
// server; ${var} in paths and bodies is what an earlier step saved.
func TestReplays(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../testdata/replay/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no replays found")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var rp replay
			if err := json.Unmarshal(raw, &rp); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			e := newEnv(t)
			vars := map[string]string{}
			expand := func(s string) string {
				for k, v := range vars {
					s = strings.ReplaceAll(s, "${"+k+"}", v)
				}
				return s
			}
			for i, st := range rp.Steps {
				var body any
				if len(st.Body) > 0 {
					body = expand(string(st.Body))
				}
				res := e.do(st.Method, expand(st.Path), body)
				where := fmt.Sprintf("step %d %q (%s %s)", i+1, st.Name, st.Method, st.Path)
				if res.status != st.Status {
					t.Fatalf("%s: status %d, want %d; body %s", where, res.status, st.Status, res.raw)
				}
				if st.Expect != nil {
					var want any
					if err := json.Unmarshal([]byte(expand(mustJSON(st.Expect))), &want); err != nil {
						t.Fatalf("%s: expected body: %v", where, err)
					}
					if msg := contains(res.body, want, "$"); msg != "" {
						t.Errorf("%s: %s\nbody: %s", where, msg, res.raw)
					}
				}
				for _, p := range st.Absent {
					if _, ok := lookup(res.body, p); ok {
						t.Errorf("%s: %s present, want absent; body %s", where, p, res.raw)
					}
				}
				for h, v := range st.Headers {
					got := res.header.Get(h)
					if v == "*" && got == "" || v != "*" && got != expand(v) {
						t.Errorf("%s: header %s = %q, want %q", where, h, got, v)
					}
				}
				for name, p := range st.Save {
					v, ok := lookup(res.body, p)
					if !ok {
						t.Fatalf("%s: nothing at %s to save as %s", where, p, name)
					}
					vars[name] = fmt.Sprint(v)
				}
			}
		})
	}
}

func mustJSON(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// lookup follows a dotted path; numeric parts index arrays, and an
// extension URN may be one part when quoted in brackets: a.[urn:x:User].b.
func lookup(v any, path string) (any, bool) {
	for _, part := range splitPath(path) {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func splitPath(p string) []string {
	var out []string
	for p != "" {
		if strings.HasPrefix(p, "[") {
			end := strings.Index(p, "]")
			out = append(out, p[1:end])
			p = strings.TrimPrefix(p[end+1:], ".")
			continue
		}
		part, rest, _ := strings.Cut(p, ".")
		out = append(out, part)
		p = rest
	}
	return out
}

// contains checks that got holds want: objects by subset, arrays element by
// element with equal length, "*" for any present value.
func contains(got, want any, at string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %v, want an object", at, got)
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing", at, k)
			}
			if msg := contains(gv, w[k], at+"."+k); msg != "" {
				return msg
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %v, want %d elements like %v", at, got, len(w), w)
		}
		for i := range w {
			if msg := contains(g[i], w[i], fmt.Sprintf("%s[%d]", at, i)); msg != "" {
				return msg
			}
		}
		return ""
	case string:
		if w == "*" && got != nil {
			return ""
		}
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%s: got %#v, want %#v", at, got, want)
	}
	return ""
}
