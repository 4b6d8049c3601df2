//go:build browser

// End-to-end tests of the media library page in a real headless Chromium
// (Debian's chromium at /usr/bin/chromium, or $CHROMIUM), against the
// real server. Run with:
//
//	go test -tags browser -artifacts -outputdir /tmp/out ./ui/
//
// Screenshots of the grid and the detail view go to the test's artifact
// folder.
package ui_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// newBrowser starts a headless Chromium with its own profile; it is
// closed when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := os.Getenv("CHROMIUM")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("no Chromium at %s (apt-get install chromium, or set $CHROMIUM): %v", exe, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser, which lives as long as its
	// context: no timeout on that one.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action that returns a value.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// eval evaluates a JavaScript expression, awaiting a promise.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return value(t, ctx, expr, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := value(t, ctx, "screenshot", chromedp.CaptureScreenshot())
	path := filepath.Join(t.ArtifactDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

func (l *library) signInWithToken(t *testing.T, ctx context.Context, token string) {
	t.Helper()
	run(t, ctx, "sign in with a token",
		chromedp.Navigate(l.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-form")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#library")),
	)
}

// waitFor polls expr in the page until it is true.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	run(t, ctx, what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second)))
}

func TestBrowserLibrary(t *testing.T) {
	l := newLibrary(t)
	ctx := newBrowser(t)
	l.signInWithToken(t, ctx, ownerToken)
	me := value(t, ctx, "read me", chromedp.Text(chromedp.CSS("#me")))
	if me != l.owner.URL+"/" {
		t.Errorf("signed in as %q, want %q", me, l.owner.URL+"/")
	}
	uploadThree(t, ctx)
	dropMarkupName(t, ctx)
	screenshot(t, ctx, "page.png")
	for name, scale := range map[string]float64{"grid.png": 1, "library.png": 0.6} { // library.png: README's docs/library.png
		png := value(t, ctx, "screenshot the grid", chromedp.ScreenshotScale(chromedp.CSS("#library"), scale))
		if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u := detailAndCopy(t, ctx, l)
	screenshot(t, ctx, "detail.png")
	deleteConfirmed(t, ctx, l, u)

	// Phone width: nothing wider than the screen.
	run(t, ctx, "phone width",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Sleep(300*time.Millisecond))
	scrollWidth := eval[int](t, ctx, `document.documentElement.scrollWidth`)
	if scrollWidth > 390 {
		t.Errorf("at 390 px the page is %d px wide", scrollWidth)
	}
	screenshot(t, ctx, "phone.png")
}

// uploadThree sends three photos through the file picker, each watched
// from start to URL, and waits for their thumbnails from spano.
func uploadThree(t *testing.T, ctx context.Context) {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("holiday-%d.jpg", i+1))
		if err := os.WriteFile(p, photo(t, 800+40*i, 600, i+1), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	eval[bool](t, ctx, `window.seen = [];
		new MutationObserver(() => { for (const s of document.querySelectorAll("#uploads .state")) window.seen.push(s.textContent); })
			.observe(document.getElementById("uploads"), {subtree: true, childList: true, characterData: true}); true`)
	run(t, ctx, "pick three files", chromedp.SetUploadFiles(chromedp.CSS("#picker"), files))
	waitFor(t, ctx, "three uploads done", `document.querySelectorAll("#uploads li.done").length === 3`)
	bars := eval[[]float64](t, ctx, `[...document.querySelectorAll("#uploads progress")].map(p => p.value)`)
	seen := eval[[]string](t, ctx, `window.seen`)
	if len(bars) != 3 {
		t.Fatalf("%d progress bars, want 3", len(bars))
	}
	for i, v := range bars {
		if v != 100 {
			t.Errorf("progress bar %d at %v %%, want 100", i, v)
		}
	}
	joined := strings.Join(seen, "\n")
	if !strings.Contains(joined, "uploading 100 %") || !strings.Contains(joined, "processing…") ||
		!strings.Contains(joined, "uploaded: https://example.com/media/") {
		t.Errorf("upload states seen %q: want uploading 100 %%, processing…, then the URL", seen)
	}
	waitFor(t, ctx, "three thumbnails loaded", `(() => { const im = [...document.querySelectorAll("#grid img.thumb")];
		return im.length === 3 && im.every(i => i.complete && i.naturalWidth > 0 && i.getAttribute("src").startsWith("/files/")); })()`)
}

// dropMarkupName drops a file whose name is markup onto the page: it
// shows as text. No "/" in it: the server keeps a filename's last path
// element only.
func dropMarkupName(t *testing.T, ctx context.Context) {
	t.Helper()
	evil := `<img src=x onerror=window.pwned=1><script>window.pwned=2<script>.jpg`
	jpg := base64.StdEncoding.EncodeToString(photo(t, 320, 200, 9))
	eval[bool](t, ctx, fmt.Sprintf(`(() => {
		const bytes = Uint8Array.from(atob(%q), c => c.charCodeAt(0));
		const dt = new DataTransfer();
		dt.items.add(new File([bytes], %q, {type: "image/jpeg"}));
		document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
		return true; })()`, jpg, evil))
	waitFor(t, ctx, "four cards", `document.querySelectorAll("#grid li").length === 4`)
	names := eval[[]string](t, ctx, `[...document.querySelectorAll("#grid .fname")].map(e => e.textContent)`)
	pwned := eval[bool](t, ctx, `window.pwned !== undefined`)
	scripts := eval[int](t, ctx, `document.scripts.length`)
	imgs := eval[int](t, ctx, `document.querySelectorAll("#grid img").length`)
	if len(names) != 4 || names[0] != evil || pwned || scripts != 1 || imgs != 4 {
		t.Errorf("names %q, pwned %v, %d scripts, %d images: want the markup filename first as text, nothing run", names, pwned, scripts, imgs)
	}
	// Two uploads run at a time, so the three photos may commit in any
	// order; the dropped file came last and is first.
	if rest := strings.Join(slices.Sorted(slices.Values(names[1:])), " "); rest != "holiday-1.jpg holiday-2.jpg holiday-3.jpg" {
		t.Errorf("cards after the first: %s, want the three holiday photos", rest)
	}
}

// detailAndCopy opens a card by keyboard and closes it, opens it by
// mouse, types an alt text and copies the HTML snippet; it returns the
// file's URL.
func detailAndCopy(t *testing.T, ctx context.Context, l *library) string {
	t.Helper()
	run(t, ctx, "open by keyboard",
		chromedp.Focus(chromedp.CSS(`#grid li:nth-child(2) button`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#detail")),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(chromedp.CSS("#detail")))

	run(t, ctx, "open detail",
		chromedp.Click(chromedp.CSS(`#grid li:nth-child(2) button`)),
		chromedp.WaitVisible(chromedp.CSS("#detail")),
		chromedp.SendKeys(chromedp.CSS("#d-alt"), `A "sunny" beach`))
	html := value(t, ctx, "read snippet", chromedp.Value(chromedp.CSS("#d-html")))
	urlField := value(t, ctx, "read URL", chromedp.Value(chromedp.CSS("#d-url")))
	for _, want := range []string{`<img src="` + urlField + `"`, `-160w.jpg 160w`, `-320w.jpg 320w`, urlField + ` 880w"`,
		`sizes="`, `width="880" height="600"`, `alt="A &quot;sunny&quot; beach"`} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML snippet %q lacks %q", html, want)
		}
	}
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: l.srv.URL,
		}); err != nil {
			t.Fatalf("allow %s: %v", name, err)
		}
	}
	run(t, ctx, "copy HTML",
		chromedp.Click(chromedp.CSS(`[data-copy="d-html"]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("copied").textContent !== ""`))
	status := value(t, ctx, "read status", chromedp.Text(chromedp.CSS("#copied")))
	clip := eval[string](t, ctx, `navigator.clipboard.readText()`)
	if status != "HTML copied." || clip != html {
		t.Errorf("copy: status %q, clipboard %q; want HTML copied. and %q", status, clip, html)
	}
	return urlField
}

// deleteConfirmed deletes the open card's file, after "Keep it" once:
// it leaves the branch only when confirmed.
func deleteConfirmed(t *testing.T, ctx context.Context, l *library, urlField string) {
	t.Helper()
	path := "media/" + strings.TrimPrefix(urlField, "https://example.com/media/")
	if !l.onBranch(t, path) {
		t.Fatalf("%s not on the branch before delete", path)
	}
	run(t, ctx, "ask to delete",
		chromedp.Click(chromedp.CSS("#delete")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if !l.onBranch(t, path) {
		t.Fatal("deleted before the confirmation")
	}
	run(t, ctx, "keep it", chromedp.Click(chromedp.CSS("#cancel-delete")))
	confirmHidden := eval[bool](t, ctx, `document.getElementById("confirm").hidden`)
	if !confirmHidden || !l.onBranch(t, path) {
		t.Fatal("Keep it did not keep it")
	}
	run(t, ctx, "delete",
		chromedp.Click(chromedp.CSS("#delete")),
		chromedp.Click(chromedp.CSS("#confirm-delete")),
		chromedp.WaitNotVisible(chromedp.CSS("#detail")))
	waitFor(t, ctx, "three cards", `document.querySelectorAll("#grid li").length === 3`)
	if l.onBranch(t, path) {
		t.Errorf("%s is still on the branch after delete", path)
	}

}

func TestBrowserIndieAuth(t *testing.T) {
	l := newLibrary(t)
	ctx := newBrowser(t)
	run(t, ctx, "sign in with IndieAuth",
		chromedp.Navigate(l.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#indieauth")),
		chromedp.Click(chromedp.CSS("#indieauth")),
		chromedp.WaitVisible(chromedp.CSS("#library")))
	me := value(t, ctx, "read me", chromedp.Text(chromedp.CSS("#me")))
	if me != l.owner.URL+"/" || len(l.owner.Refusals()) != 0 {
		t.Errorf("signed in as %q (refused: %q), want %q", me, l.owner.Refusals(), l.owner.URL+"/")
	}
	if len(l.owner.Requests) != 1 || l.owner.Requests[0].Get("code_challenge_method") != "S256" {
		t.Errorf("authorization requests %v, want one with S256", l.owner.Requests)
	}
	run(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#token-form")))
	signedIn := eval[bool](t, ctx, `fetch("session").then(r => r.json()).then(s => s.signed_in)`)
	if signedIn {
		t.Error("still signed in after sign-out")
	}
}

// TestBrowserCrossSitePost: a page elsewhere submits a delete form to the
// endpoint while the owner is signed in. From the same site (another port
// of 127.0.0.1) the browser sends the cookie and the missing CSRF token
// refuses it; from another site (localhost) SameSite keeps the cookie.
func TestBrowserCrossSitePost(t *testing.T) {
	l := newLibrary(t)
	ctx := newBrowser(t)
	l.signInWithToken(t, ctx, ownerToken)
	c, csrf := l.client(t, ownerToken)
	resp, out := l.upload(t, c, csrf, photo(t, 400, 300, 5))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %v", resp.StatusCode, out)
	}
	u := out["url"].(string)
	path := "media/" + strings.TrimPrefix(u, "https://example.com/media/")

	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form method="post" action="%s/micropub/media"><input name="action" value="delete"><input name="url" value="%s"></form>
<script>document.forms[0].submit()</script>`, l.srv.URL, u)
	}))
	defer evil.Close()
	port := evil.URL[strings.LastIndex(evil.URL, ":")+1:]
	for _, tt := range []struct{ name, page, want string }{
		{"same site", evil.URL + "/", `"forbidden"`},
		{"cross site", "http://localhost:" + port + "/", `"unauthorized"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			run(t, ctx, "attack",
				chromedp.Navigate(tt.page),
				chromedp.Poll[chromedp.Void](`location.href.endsWith("/micropub/media")`, chromedp.WithPollingTimeout(10*time.Second)))
			body := value(t, ctx, "read answer", chromedp.Text(chromedp.CSS("body")))
			if !strings.Contains(body, tt.want) {
				t.Errorf("endpoint answered %q, want %s", body, tt.want)
			}
			if !l.onBranch(t, path) {
				t.Fatal("the cross-site form deleted the file")
			}
		})
	}
}

// dropJS drops files made in the page (name, then a JS expression for
// their bytes) onto the drop zone.
func dropJS(files map[string]string, then string) string {
	var b strings.Builder
	b.WriteString(`(() => { const dt = new DataTransfer();`)
	for name, bytes := range files {
		fmt.Fprintf(&b, "dt.items.add(new File([%s], %q));", bytes, name)
	}
	b.WriteString(`document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));`)
	b.WriteString(then)
	b.WriteString(`return true; })()`)
	return b.String()
}

func TestBrowserUploadErrorsAndCancel(t *testing.T) {
	l := newLibrary(t)
	ctx := newBrowser(t)
	l.signInWithToken(t, ctx, ownerToken)
	jpegHead := `new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1])`
	eval[bool](t, ctx, dropJS(map[string]string{
		"notes.txt":  `new TextEncoder().encode("just some text, not media\n".repeat(20))`,
		"big.jpg":    `(() => { const a = new Uint8Array(5300000); a.set(` + jpegHead + `); return a; })()`,
		"broken.jpg": `(() => { const a = new Uint8Array(3000); a.set(` + jpegHead + `); return a; })()`,
	}, ""))
	waitFor(t, ctx, "three failures", `document.querySelectorAll("#uploads li.failed").length === 3`)
	got := eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll("#uploads li")].map(li =>
		[li.querySelector(".name").textContent.split(" (")[0], li.querySelector(".state").textContent]))`)
	for name, want := range map[string]string{
		"notes.txt":  "Not accepted: file type",
		"big.jpg":    "Too large: file is larger than 5242880 bytes",
		"broken.jpg": "Could not use this file: the file's metadata is malformed",
	} {
		if !strings.HasPrefix(got[name], want) {
			t.Errorf("%s: %q, want it to start %q", name, got[name], want)
		}
	}
	screenshot(t, ctx, "errors.png")
	if shown := eval[bool](t, ctx, `getComputedStyle(document.getElementById("more")).display !== "none"`); shown {
		t.Error("with nothing uploaded the page offers older uploads")
	}

	// Three photos: the first is cancelled in flight, the third while it
	// waits its turn (two go at a time); only the second is stored.
	head, err := l.repo.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var files = map[string]string{}
	for i := range 3 {
		files[fmt.Sprintf("c%d.jpg", i)] = fmt.Sprintf(`Uint8Array.from(atob(%q), c => c.charCodeAt(0))`,
			base64.StdEncoding.EncodeToString(photo(t, 300, 200, 20+i)))
	}
	eval[bool](t, ctx, `document.getElementById("uploads").replaceChildren(); true`)
	eval[bool](t, ctx, dropJS(files, `const rows = [...document.querySelectorAll("#uploads li")];
		rows[0].querySelector("button").click(); rows[rows.length - 1].querySelector("button").click();`))
	waitFor(t, ctx, "one done", `document.querySelectorAll("#uploads li.done").length === 1`)
	states := eval[[]string](t, ctx, `[...document.querySelectorAll("#uploads .state")].map(s => s.textContent)`)
	if len(states) != 3 || states[0] != "cancelled" || states[2] != "cancelled" || !strings.HasPrefix(states[1], "uploaded: ") {
		t.Errorf("states %q, want cancelled, uploaded, cancelled", states)
	}
	time.Sleep(300 * time.Millisecond) // let a request that reached the server finish
	after, _ := l.repo.Head(context.Background())
	if after == head {
		t.Error("nothing was committed")
	}
	items := eval[int](t, ctx, `document.querySelectorAll("#grid li").length`)
	if items < 1 || items > 2 {
		t.Errorf("%d cards, want the uploaded one (and at most the one cancelled in flight)", items)
	}
}

func TestBrowserPagingAndFilter(t *testing.T) {
	l := newLibrary(t)
	c, csrf := l.client(t, ownerToken)
	for i := range 26 {
		if resp, out := l.upload(t, c, csrf, photo(t, 60, 40, 100+i)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload %d: %d %v", i, resp.StatusCode, out)
		}
	}
	ctx := newBrowser(t)
	l.signInWithToken(t, ctx, ownerToken)
	waitFor(t, ctx, "first page", `document.querySelectorAll("#grid li").length === 24`)
	run(t, ctx, "older", chromedp.Click(chromedp.CSS("#more")))
	waitFor(t, ctx, "second page", `document.querySelectorAll("#grid li").length === 26`)
	if shown := eval[bool](t, ctx, `getComputedStyle(document.getElementById("more")).display !== "none"`); shown {
		t.Error("after the last page the page still offers older uploads")
	}
	if n := eval[int](t, ctx, `new Set([...document.querySelectorAll("#grid li")].map(li => li.dataset.url)).size`); n != 26 {
		t.Errorf("%d distinct cards, want 26", n)
	}
	run(t, ctx, "only videos", chromedp.SetValue(chromedp.CSS("#filter"), "video"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("filter").dispatchEvent(new Event("change"))`))
	waitFor(t, ctx, "no videos", `document.querySelectorAll("#grid li").length === 0 && !document.getElementById("empty").hidden`)
	run(t, ctx, "only images", chromedp.SetValue(chromedp.CSS("#filter"), "image"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("filter").dispatchEvent(new Event("change"))`))
	waitFor(t, ctx, "images", `document.querySelectorAll("#grid li").length === 24`)
}
