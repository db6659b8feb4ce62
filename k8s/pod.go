// Package k8s holds the Kubernetes manifests beside it and, for the tests
// that run the binary as the pod would, what they give its container: Pod,
// kept in testdata/pod.json. Its own tests render the manifests with
// kustomize, as kubectl apply -k does, decode them strictly into the
// Kubernetes API's types, check them against the service, and fail when
// pod.json no longer says what they render. Only tests import it; they do
// not compile kustomize unless they are k8s's own.
//
// The API's types are plain copies of k8s.io/api's, which apigen writes to
// api_test.go: the typed API itself, with its codecs, is compiled only when
// go generate runs.
package k8s

//go:generate go run -tags apigen ./apigen

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	_ "embed"
	"encoding/json"
	"encoding/pem"
	"testing"
)

//go:embed testdata/pod.json
var podJSON []byte

// Pod is the service's container as the manifests make it.
type Pod struct {
	// Env is the environment with plain values, the ConfigMap's included.
	Env map[string]string `json:"env"`
	// SecretEnv names, for each variable set from the Secret, its key.
	SecretEnv map[string]string `json:"secretEnv"`
	// Mounts gives, for each path the Secret is mounted at, its files and
	// the key each holds.
	Mounts map[string]map[string]string `json:"mounts"`
	// The probes' paths and where Prometheus scrapes.
	LivenessPath  string `json:"livenessPath"`
	ReadinessPath string `json:"readinessPath"`
	MetricsPath   string `json:"metricsPath"`
	// MemoryLimit is the container's limit in bytes.
	MemoryLimit int64 `json:"memoryLimit"`
}

// Shipped is the Pod the manifests make, as their tests last checked it.
func Shipped(t testing.TB) Pod {
	t.Helper()
	var p Pod
	if err := json.Unmarshal(podJSON, &p); err != nil {
		t.Fatalf("k8s/testdata/pod.json: %v", err)
	}
	return p
}

// FakeSecrets stand in for the gitignored k8s/secrets/ folder: the Secret's
// keys and their contents.
func FakeSecrets(t testing.TB) map[string][]byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	previous, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&previous.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"database-uri":                 []byte("postgres://latchkey:secret@postgres:5432/latchkey?sslmode=verify-full"),
		"jwt-private-key.pem":          pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"jwt-previous-public-keys.pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"smtp-url":                     []byte("smtp://latchkey:p%40ss@relay.example.com:587"),
	}
}
