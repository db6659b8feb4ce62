// Package playground serves GraphiQL from files embedded in the binary: the
// page, and the JavaScript and CSS bundled from the graphiql npm package in
// web/ (rebuilt with `npm ci && npm run build` there). It needs nothing from
// the internet and runs under a Content-Security-Policy that allows this
// origin alone.
package playground

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io"
	"net/http"
	"path"
	"time"
)

//go:embed index.html dist/graphiql.js dist/graphiql.css
var files embed.FS

// AssetPrefix is the path under which the page loads its JavaScript and CSS.
const AssetPrefix = "/playground/"

// policy is the page's Content-Security-Policy: scripts, styles and requests
// from this origin only, fonts and images also from the data: URLs of
// GraphiQL's stylesheet, no frames, no forms, no plugins. The <style>
// elements GraphiQL's dialogs add carry the nonce of the request.
func policy(nonce string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-" + nonce + "'; " +
		"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// asset is an embedded file that the handler serves from the binary's
// read-only data, without a copy on the heap.
type asset struct {
	path string
	etag string
}

// Handler serves the page at "/" and its assets under AssetPrefix. The
// page itself refers to the assets relatively, so a proxy may mount the
// service under a path prefix.
func Handler() http.Handler {
	page := template.Must(template.ParseFS(files, "index.html"))
	assets := map[string]asset{}
	for _, name := range []string{"graphiql.js", "graphiql.css"} {
		assets[name] = load(path.Join("dist", name))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		nonce := rand.Text() // 128 random bits, fresh for each page
		var buf bytes.Buffer
		if err := page.Execute(&buf, struct{ Nonce string }{nonce}); err != nil {
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", policy(nonce))
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(buf.Bytes())
	})
	mux.HandleFunc("GET "+AssetPrefix+"{name}", func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		f, err := files.Open(a.path)
		if err != nil {
			http.Error(w, "internal server error", http.StatusInternalServerError)
			return
		}
		defer f.Close()
		// Revalidated on each load: an upgraded binary serves new files
		// under the same names.
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", a.etag)
		// An embedded file reads and seeks in place.
		http.ServeContent(w, r, path.Base(a.path), time.Time{}, f.(io.ReadSeeker))
	})
	return mux
}

func load(name string) asset {
	// The files are embedded at build time; a missing one is a broken build.
	f, err := files.Open(name)
	if err != nil {
		panic("playground: " + err.Error())
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		panic("playground: " + err.Error())
	}
	return asset{path: name, etag: `"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`}
}
