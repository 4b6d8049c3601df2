package live

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	tests := []struct {
		name        string
		refuseHead  bool
		ignoreRange bool
		served      int64 // bytes the site serves for an upload of 500
		wantLive    bool
	}{
		{name: "HEAD", served: 500, wantLive: true},
		{name: "HEAD refused, ranged GET", refuseHead: true, served: 500, wantLive: true},
		{name: "HEAD refused, Range ignored", refuseHead: true, ignoreRange: true, served: 500, wantLive: true},
		{name: "HEAD, wrong size", served: 499},
		{name: "ranged GET, wrong size", refuseHead: true, served: 501},
		{name: "Range ignored, wrong size", refuseHead: true, ignoreRange: true, served: 499},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site := newFakeSite(t)
			site.refuseHead, site.ignoreRange = tt.refuseHead, tt.ignoreRange
			opts, events := site.options(t, filepath.Join(t.TempDir(), "live.json"))
			opts.Timeout = 400 * time.Millisecond
			c := newChecker(t, opts)
			it := site.item(1, 500)
			served := it
			served.Size = tt.served
			site.deploy(served)
			if err := c.Watch(it); err != nil {
				t.Fatal(err)
			}
			if tt.wantLive {
				waitEvents(t, events, 1)
				return
			}
			waitFor(t, "giving up", func() bool { e, _ := c.Entry(it.SHA256); return e.Status == StatusGaveUp })
			if c.Live(it.SHA256) {
				t.Error("live with the wrong size")
			}
		})
	}
}

func TestRefusesURLsOutsideAllowed(t *testing.T) {
	site := newFakeSite(t)
	other := newFakeSite(t)
	opts, events := site.options(t, filepath.Join(t.TempDir(), "live.json"))
	c := newChecker(t, opts)
	good := site.item(1, 10)
	for _, u := range []string{
		other.srv.URL + "/media/a.jpg",
		site.srv.URL + "/other/a.jpg",
		site.srv.URL + "/mediax/a.jpg",
		site.srv.URL + "/media/../admin",
		site.srv.URL + "/media/%2e%2e/admin",
		"ftp://" + site.srv.Listener.Addr().String() + "/media/a.jpg",
		"http://user:pw@" + site.srv.Listener.Addr().String() + "/media/a.jpg",
		"/media/a.jpg",
		"::not a url",
	} {
		it := good
		it.URL = u
		if err := c.Watch(it); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("Watch(%s) = %v, want ErrNotAllowed", u, err)
		}
	}
	if _, ok := c.Entry(good.SHA256); ok {
		t.Error("a refused URL is in the state")
	}

	// A redirect off the allowed prefix is not followed.
	site.mu.Lock()
	site.redirect[urlPath(t, good.URL)] = other.srv.URL + "/media/elsewhere.jpg"
	site.mu.Unlock()
	other.deploy(Item{URL: other.srv.URL + "/media/elsewhere.jpg", Size: good.Size})
	if err := c.Watch(good); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "polls", func() bool { return site.hitsOn(good) >= 3 })
	if n := other.hitsOn(Item{URL: other.srv.URL + "/media/elsewhere.jpg"}); n != 0 {
		t.Errorf("the redirect off the prefix was followed %d times", n)
	}
	select {
	case e := <-events:
		t.Fatalf("%s live through a redirect off the prefix", e.item.URL)
	default:
	}
}

func TestFollowsRedirectsWithinAllowed(t *testing.T) {
	site := newFakeSite(t)
	opts, events := site.options(t, filepath.Join(t.TempDir(), "live.json"))
	c := newChecker(t, opts)
	it := site.item(1, 10)
	moved := site.item(2, 10)
	site.mu.Lock()
	site.redirect[urlPath(t, it.URL)] = moved.URL
	site.mu.Unlock()
	moved.Size = it.Size
	site.deploy(moved)
	if err := c.Watch(it); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, events, 1)
}

func TestConcurrencyBound(t *testing.T) {
	site := newFakeSite(t)
	site.latency = 30 * time.Millisecond
	opts, events := site.options(t, filepath.Join(t.TempDir(), "live.json"))
	opts.MaxInFlight = 2
	c := newChecker(t, opts)
	var items []Item
	for i := range 12 {
		items = append(items, site.item(i, int64(10+i)))
	}
	site.deploy(items...)
	for _, it := range items {
		if err := c.Watch(it); err != nil {
			t.Fatal(err)
		}
	}
	waitEvents(t, events, len(items))
	if got := site.maxInFlight.Load(); got > 2 || got < 1 {
		t.Errorf("%d polls in flight at once, want at most 2", got)
	}
}

func TestRangeTotal(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"bytes 0-0/1234", 1234},
		{"bytes 0-0/*", -1},
		{"bytes */1234", 1234},
		{"items 0-0/12", -1},
		{"", -1},
		{"bytes 0-0", -1},
	} {
		if got := rangeTotal(tt.in); got != tt.want {
			t.Errorf("rangeTotal(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
