package config

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite docs/settings.md from the settings table")

// settingsDocPath is docs/settings.md from this package's folder.
const settingsDocPath = "../../docs/settings.md"

// regenerate is the command that rewrites docs/settings.md.
const regenerate = "go test ./internal/config -run TestSettingsDoc -update"

// settingsDoc renders the settings tables as docs/settings.md.
func settingsDoc() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!-- Generated from the settings table in internal/config/settings.go by `%s`; do not edit. -->\n\n", regenerate)
	b.WriteString(`# Settings

The service reads its settings from environment variables, once, at the
start. An empty value counts as unset, and spaces around a value are
ignored, except in JWT_SECRET_KEY, used byte for byte. Durations are Go
durations: ` + "`90s`, `15m`, `720h`" + `. A setting that does not parse or is out of
range stops the start, with one line per problem naming its variable.

Secrets come from a secret store (in Kubernetes, a Secret), never from
plain configuration; the start-up log line shows them as ` + "`[REDACTED]`" + `. A
default in plain text is computed from the setting it names.

| Variable | Default | Meaning | Secret |
|---|---|---|---|
`)
	for _, s := range settings {
		def := "unset"
		switch {
		case s.defaultFrom != nil:
			def = s.def
		case s.def != "":
			def = "`" + s.def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.name, def, s.meaning, yes(s.secret))
	}
	b.WriteString(`
## Read by the OpenTelemetry SDK

Tracing is on when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
OTEL_EXPORTER_OTLP_ENDPOINT is set, unless OTEL_SDK_DISABLED or
OTEL_TRACES_EXPORTER turns it off. Spans then go over OTLP/HTTP, and the
OpenTelemetry Go SDK reads these variables itself, in the formats of the
OpenTelemetry specification. A value it cannot use is reported on
standard error and ignored, except a malformed OTEL_RESOURCE_ATTRIBUTES,
which stops the start.

| Variable | Meaning | Secret |
|---|---|---|
`)
	for _, s := range sdkSettings {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", strings.Join(s.names, "`, `"), s.meaning, yes(s.secret))
	}
	return b.Bytes()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

// TestSettingsDoc checks that docs/settings.md is the settings tables as
// they are; with -update it rewrites the file.
func TestSettingsDoc(t *testing.T) {
	want := settingsDoc()
	if *update {
		if err := os.WriteFile(settingsDocPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(settingsDocPath)
	if err != nil {
		t.Fatalf("%v; generate it with: %s", err, regenerate)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
		t.Errorf("docs/settings.md is stale: regenerate it with\n\t%s\ndiff (-want +got):\n%s", regenerate, diff)
	}
}
