package console_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/scimgate/scimgate/store"
)

// chromium finds a Chromium or Chrome to drive; the browser tests skip
// without one.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("Chromium not found: install it (Debian: apt-get install chromium) to run the console's browser tests")
	return ""
}

// browser starts a headless Chromium for t, with the flags a closed
// network needs (no background connections), and a fresh profile.
func browser(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.Headless, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(alloc)
	bctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return bctx
}

// shots keeps a screenshot after each step, written out only if the test
// fails: to $SCIMGATE_SCREENSHOTS, or a folder in the temporary directory.
type shots struct {
	t     *testing.T
	ctx   context.Context
	pages map[string][]byte
}

func (s *shots) take(step string) {
	if png, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(80)); err == nil {
		s.pages[step] = png
	}
}

func (s *shots) writeOnFailure() {
	if !s.t.Failed() {
		return
	}
	dir := os.Getenv("SCIMGATE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "scimgate-console-screenshots", s.t.Name())
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Logf("screenshots: %v", err)
		return
	}
	for step, png := range s.pages {
		name := strings.NewReplacer(" ", "-", "/", "-").Replace(step) + ".jpg"
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			s.t.Logf("screenshot %s: %v", step, err)
		}
	}
	s.t.Logf("screenshots of each step: %s", dir)
}

// TestInBrowser drives the console in headless Chromium: sign in, find a
// SCIM user marked Managed with no edit controls, deactivate a local user
// (and see it deactivated through the Web API), read a project's access
// answer, and read the audit entry of the deactivation.
func TestInBrowser(t *testing.T) {
	e := newEnv(t, store.DefaultPolicy())
	bctx := browser(t)
	e.scimCreate("sam@corp.example")
	lea := e.local("lea", "Lea")
	admin := store.Caller{User: e.user("admin"), Admin: true}
	p, err := store.CreateProjectAs(ctx, e.st, admin, store.NewProjectRequest{Key: "payments", Name: "Payments", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	s := &shots{t: t, ctx: bctx, pages: map[string][]byte{}}
	defer s.writeOnFailure()
	// step runs actions, keeps a screenshot, and fails the test on an error.
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		err := chromedp.Do(bctx, actions...)
		s.take(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
		if err != nil {
			t.Fatalf("count of %s: %v", sel, err)
		}
		return n
	}

	step("sign in",
		chromedp.Navigate(e.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), adminPass),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-login="sam@corp.example"]`)),
	)
	if location, err := chromedp.Run(bctx, chromedp.Location()); err != nil || !strings.HasSuffix(location, "/console/users") {
		t.Fatalf("after sign-in at %s (%v)", location, err)
	}

	step("keyboard: the first Tab reaches the skip link", chromedp.KeyEvent("\t"))
	if focused, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.activeElement.textContent`)); err != nil || focused != "Skip to content" {
		t.Errorf("first focus: %q (%v)", focused, err)
	}

	step("on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(e.srv.URL+"/console/users"),
		chromedp.WaitVisible(chromedp.CSS(`table`)))
	if fits, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)); err != nil || !fits {
		t.Errorf("the users page is wider than a phone's screen (%v)", err)
	}
	step("back on a laptop", chromedp.EmulateViewport(1280, 900), chromedp.Reload())

	if row := text(`tr[data-login="sam@corp.example"]`); !strings.Contains(row, "Managed") {
		t.Fatalf("SCIM user's row: %q", row)
	}
	step("managed user page",
		chromedp.Click(chromedp.CSS(`tr[data-login="sam@corp.example"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`.managed-note`)),
	)
	if main, forms, controls := text("main"), count("main form"), count("main button, main input:not([readonly]), main select"); !strings.Contains(main, "Managed by your identity provider") || forms != 0 || controls != 0 {
		t.Fatalf("managed user page: %d forms, %d controls, text %q", forms, controls, main)
	}

	step("deactivate a local user",
		chromedp.Navigate(e.srv.URL+"/console/users?q=lea"),
		chromedp.Click(chromedp.CSS(`tr[data-login="lea"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`a.button.danger`)),
		chromedp.Click(chromedp.CSS(`a.button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`button.danger`)),
		chromedp.Click(chromedp.CSS(`button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if notice := text(".notice"); notice != "The user was deactivated." {
		t.Fatalf("notice after deactivation: %q", notice)
	}
	req, err := http.NewRequest("GET", e.srv.URL+"/api/users/search?q=lea&deactivated=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", adminPass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.Contains(string(raw), `"login":"lea"`) || !strings.Contains(string(raw), `"active":false`) {
		t.Fatalf("the Web API does not see lea deactivated: %s", raw)
	}
	if u := e.user("lea"); u.Active || u.ID != lea.ID {
		t.Fatalf("store: %+v", u)
	}

	step("project access answer",
		chromedp.Navigate(e.srv.URL+"/console/projects"),
		chromedp.Click(chromedp.CSS(`a[href="/console/projects/`+p.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.access`)),
	)
	if row := text(`tr[data-login="sam@corp.example"]`); !strings.Contains(row, "through group sonar-users (from template Default template)") {
		t.Fatalf("access answer for sam: %q", row)
	}

	step("audit entry of the deactivation",
		chromedp.Navigate(e.srv.URL+"/console/audit"),
		chromedp.SendKeys(chromedp.ID("name"), "lea"),
		chromedp.Submit(chromedp.ID("name")),
		chromedp.WaitVisible(chromedp.CSS(`#name[value="lea"]`)), // the filtered page
		chromedp.WaitVisible(chromedp.CSS(`table.audit tbody tr`)),
	)
	entry := text(`table.audit tbody tr`)
	for _, want := range []string{"admin", "console", "user updated", "lea", "deactivated"} {
		if !strings.Contains(entry, want) {
			t.Errorf("newest audit entry of lea lacks %q: %q", want, entry)
		}
	}

	if out := os.Getenv("SCIMGATE_README_SCREENSHOT"); out != "" {
		e.scimCreate("ana.silva@corp.example")
		e.scimCreate("kim.lee@corp.example")
		e.local("ci-bot", "CI robot")
		step("README screenshot", chromedp.EmulateViewport(1100, 560), chromedp.Navigate(e.srv.URL+"/console/users"),
			chromedp.WaitVisible(chromedp.CSS(`table`)))
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
