package k8s

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Manifests is k8s/ rendered and decoded into the API's types (api_test.go,
// which apigen copies from k8s.io/api).
type Manifests struct {
	Deployment    *Deployment
	Service       *Service
	HPA           *HorizontalPodAutoscaler
	PDB           *PodDisruptionBudget
	NetworkPolicy *NetworkPolicy
	ConfigMap     *ConfigMap
	Secret        *Secret
}

// build renders k8s/ with kustomize, as kubectl apply -k does, on a copy in
// memory with secrets in secrets/.
func build(t testing.TB, secrets map[string][]byte) (resmap.ResMap, error) {
	t.Helper()
	const dir = "."
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		switch {
		case err != nil:
			return err
		case d.IsDir() && (rel == "secrets" || rel == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || strings.HasSuffix(rel, ".go"):
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile(filepath.Join("/k8s", rel), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range secrets {
		if err := mem.WriteFile(filepath.Join("/k8s/secrets", name), b); err != nil {
			t.Fatal(err)
		}
	}
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/k8s")
}

// render builds k8s/ with secrets and decodes every object strictly: an
// unknown, misspelt or repeated field fails.
func render(t testing.TB, secrets map[string][]byte) Manifests {
	t.Helper()
	rm, err := build(t, secrets)
	if err != nil {
		t.Fatalf("kustomize build k8s/: %v", err)
	}

	var m Manifests
	// Each kind the manifests may hold, with its apiVersion and where it
	// decodes to.
	kinds := map[string]struct {
		apiVersion string
		into       func() any
	}{
		"Deployment":              {"apps/v1", func() any { m.Deployment = new(Deployment); return m.Deployment }},
		"Service":                 {"v1", func() any { m.Service = new(Service); return m.Service }},
		"HorizontalPodAutoscaler": {"autoscaling/v2", func() any { m.HPA = new(HorizontalPodAutoscaler); return m.HPA }},
		"PodDisruptionBudget":     {"policy/v1", func() any { m.PDB = new(PodDisruptionBudget); return m.PDB }},
		"NetworkPolicy":           {"networking.k8s.io/v1", func() any { m.NetworkPolicy = new(NetworkPolicy); return m.NetworkPolicy }},
		"ConfigMap":               {"v1", func() any { m.ConfigMap = new(ConfigMap); return m.ConfigMap }},
		"Secret":                  {"v1", func() any { m.Secret = new(Secret); return m.Secret }},
	}
	seen := map[string]bool{}
	for _, r := range rm.Resources() {
		kind := r.GetKind()
		k, ok := kinds[kind]
		if !ok {
			t.Errorf("%s %s: no test knows this kind; add it to render", kind, r.GetName())
			continue
		}
		if seen[kind] {
			t.Errorf("two objects of kind %s; the test expects one", kind)
		}
		seen[kind] = true
		if got := r.GetApiVersion(); got != k.apiVersion {
			t.Errorf("%s %s: apiVersion %q, want %q", kind, r.GetName(), got, k.apiVersion)
		}
		raw, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("%s %s: %v", kind, r.GetName(), err)
		}
		strict, err := sigsjson.UnmarshalStrict(raw, k.into(), sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
		if err != nil {
			t.Errorf("%s %s does not decode: %v", kind, r.GetName(), err)
		}
		for _, e := range strict {
			t.Errorf("%s %s: %v", kind, r.GetName(), e)
		}
	}
	for kind := range kinds {
		if !seen[kind] {
			t.Errorf("k8s/ renders no %s", kind)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return m
}

// Container is the Deployment's one container.
func (m Manifests) Container(t testing.TB) Container {
	t.Helper()
	cs := m.Deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(cs))
	}
	return cs[0]
}

// Env is the container's environment as the kubelet would give it, secrets
// resolved from the rendered Secret.
func (m Manifests) Env(t testing.TB) map[string]string {
	t.Helper()
	c := m.Container(t)
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil && from.ConfigMapRef.Name == m.ConfigMap.Name && from.Prefix == "":
			maps.Copy(env, m.ConfigMap.Data)
		default:
			t.Errorf("envFrom %+v: want only the ConfigMap %s, without prefix", from, m.ConfigMap.Name)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, ok := m.Secret.Data[ref.Key]
			if ref.Name != m.Secret.Name || !ok {
				t.Errorf("env %s refers to secret %s key %s, which k8s/ does not make (Secret %s has %v)",
					e.Name, ref.Name, ref.Key, m.Secret.Name, slices.Sorted(maps.Keys(m.Secret.Data)))
			}
			env[e.Name] = string(v)
		default:
			t.Errorf("env %s: only values and Secret references are expected", e.Name)
		}
	}
	return env
}
