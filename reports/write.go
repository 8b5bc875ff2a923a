package reports

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
)

// Format is a rendering of compat.json.
type Format string

const (
	FormatMarkdown Format = "md"
	FormatHTML     Format = "html"
	FormatJUnit    Format = "junit"
	FormatBadge    Format = "badge"
)

// Formats lists the renderings in the order a run writes them.
var Formats = []Format{FormatMarkdown, FormatHTML, FormatJUnit, FormatBadge}

// FileNames are the names a run gives each rendering, next to compat.json.
var FileNames = map[Format]string{
	FormatMarkdown: "compat.md",
	FormatHTML:     "compat.html",
	FormatJUnit:    "junit.xml",
	FormatBadge:    "badge.svg",
}

// ScreenshotName is the name of the HTML page's screenshot.
const ScreenshotName = "compat.png"

// Render renders a document in a format.
func Render(c *Compat, f Format) ([]byte, error) {
	switch f {
	case FormatMarkdown:
		return Markdown(c), nil
	case FormatHTML:
		return HTML(c)
	case FormatJUnit:
		return JUnit(c)
	case FormatBadge:
		return Badge(c), nil
	}
	return nil, fmt.Errorf("unknown format %q: want md, html, junit or badge", f)
}

// WriteAll writes every rendering into dir under its FileNames name and
// returns the paths written.
func WriteAll(dir string, c *Compat) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range Formats {
		data, err := Render(c, f)
		if err != nil {
			return paths, err
		}
		p := filepath.Join(dir, FileNames[f])
		if err := writeAtomic(p, data); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".render-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Reports are meant to be published (CI artifacts, pages): readable by
	// all, unlike CreateTemp's 0600.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// ErrNoBrowser is returned by Browser when no Chromium is installed.
var ErrNoBrowser = errors.New("no chromium or google-chrome on this machine")

// Browser returns the path of a Chromium-family browser: $KMSCONFORM_CHROMIUM,
// else the first of chromium, chromium-browser, google-chrome on the PATH.
func Browser() (string, error) {
	if p := os.Getenv("KMSCONFORM_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBrowser
}

// headlessArgs keep a headless Chromium off the network and away from the
// user's profile: the page is local and must need nothing else.
func headlessArgs(profile string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
		"--hide-scrollbars", "--user-data-dir=" + profile}
}

// FileURL is the file:// URL of a local page, with an optional fragment
// (the HTML report reads its filter and selected cell from it).
func FileURL(page, fragment string) (string, error) {
	abs, err := filepath.Abs(page)
	if err != nil {
		return "", err
	}
	u := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	if fragment != "" {
		u += "#" + fragment
	}
	return u, nil
}

// Headless runs the browser headless on a URL with extra arguments
// (--dump-dom, --screenshot=…) and returns its standard output. The profile
// lives in a temporary directory removed afterwards.
func Headless(ctx context.Context, browser, pageURL string, args ...string) ([]byte, error) {
	profile, err := os.MkdirTemp("", "kmsconform-chromium-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)
	all := append(headlessArgs(profile), args...)
	all = append(all, pageURL)
	cmd := exec.CommandContext(ctx, browser, all...)
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", filepath.Base(browser), err, firstLine(string(stderr.b)))
	}
	return out, nil
}

// Screenshot renders a local HTML page headless into a PNG file.
func Screenshot(ctx context.Context, browser, page, png string) error {
	abs, err := filepath.Abs(png)
	if err != nil {
		return err
	}
	u, err := FileURL(page, "")
	if err != nil {
		return err
	}
	// A screenshot left by an earlier run must not pass for this one's.
	_ = os.Remove(abs)
	if _, err := Headless(ctx, browser, u, "--window-size=1400,2400", "--screenshot="+abs); err != nil {
		return err
	}
	if st, err := os.Stat(abs); err != nil || st.Size() == 0 {
		return fmt.Errorf("the browser wrote no screenshot to %s", abs)
	}
	return nil
}

// limitedBuffer keeps the first 4 KiB written to it: enough to explain a
// browser failure without holding its whole chatter.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 4096 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
