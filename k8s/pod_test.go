package k8s

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/pod.json from the manifests")

// pod is what m gives the service's container.
func (m Manifests) pod(t testing.TB) Pod {
	t.Helper()
	c := m.Container(t)
	p := Pod{
		Env:           map[string]string{},
		SecretEnv:     map[string]string{},
		Mounts:        map[string]map[string]string{},
		LivenessPath:  c.LivenessProbe.HTTPGet.Path,
		ReadinessPath: c.ReadinessProbe.HTTPGet.Path,
		MetricsPath:   m.Deployment.Spec.Template.Annotations["prometheus.io/path"],
		MemoryLimit:   c.Resources.Limits["memory"].Value(),
	}
	maps.Copy(p.Env, m.ConfigMap.Data)
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			p.SecretEnv[e.Name] = e.ValueFrom.SecretKeyRef.Key
		} else {
			p.Env[e.Name] = e.Value
		}
	}
	for _, vm := range c.VolumeMounts {
		files := map[string]string{}
		for _, v := range m.Deployment.Spec.Template.Spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			if v.Secret == nil || v.Secret.SecretName != m.Secret.Name {
				t.Fatalf("volume %s: only the Secret %s is expected", v.Name, m.Secret.Name)
			}
			for _, item := range v.Secret.Items {
				files[item.Path] = item.Key
			}
		}
		p.Mounts[vm.MountPath] = files
	}
	return p
}

// TestPod checks that testdata/pod.json, which e2e's TestImageBinary runs
// the binary by, is what the manifests make; with -update it rewrites it.
func TestPod(t *testing.T) {
	const regenerate = "go test ./k8s -run TestPod -update"
	m := render(t, FakeSecrets(t))
	m.Env(t) // checks the references
	want := m.pod(t)
	if *update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/pod.json", b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, Shipped(t)); diff != "" {
		t.Errorf("testdata/pod.json is stale: regenerate it with\n\t%s\ndiff (-want +got):\n%s", regenerate, diff)
	}
}
