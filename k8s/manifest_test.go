// The tests of the manifests: they render with kustomize, decode strictly
// into the Kubernetes API's types, and agree with the service's real
// settings, routes and ports, so they cannot drift.

package k8s

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/config"
)

// load is config.Load over the manifests' environment: the settings the
// service would run with.
func load(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the service refuses the manifests' settings:\n%v", err)
	}
	return cfg
}

// containerPort resolves a probe's or Service's port (a number or a name)
// to the container's port number.
func containerPort(t *testing.T, c Container, p IntOrString) int32 {
	t.Helper()
	for _, cp := range c.Ports {
		if (p.IsString && cp.Name == p.StrVal) || (!p.IsString && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort
		}
	}
	t.Errorf("port %s is none of the container's ports %+v", p.String(), c.Ports)
	return -1
}

// TestManifests renders k8s/ and checks it against the service: every
// setting is one the service reads and accepts, probes and ports point at
// the port it listens on, selectors select the pods, and the pods run
// locked down with resources set.
func TestManifests(t *testing.T) {
	m := render(t, FakeSecrets(t))
	d, c := m.Deployment, m.Container(t)
	pod := d.Spec.Template.Spec

	t.Run("variables", func(t *testing.T) {
		known, secrets := config.Variables(), config.SecretVariables()
		for name := range m.Env(t) {
			if !slices.Contains(known, name) {
				t.Errorf("the manifests set %s, which the service does not read (config.Variables)", name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil && slices.Contains(secrets, e.Name) {
				t.Errorf("env %s is a secret: it must come from the Secret, not a value", e.Name)
			}
		}
		for k := range m.ConfigMap.Data {
			if slices.Contains(secrets, k) {
				t.Errorf("ConfigMap holds %s, a secret: put it in k8s/secrets/", k)
			}
		}
	})

	t.Run("settings", func(t *testing.T) {
		env := m.Env(t)
		cfg := load(t, env)
		if cfg.Debug {
			t.Error("the manifests run the service in development mode; set DEBUG=false")
		}
		if cfg.Database.Dialect != "postgres" {
			t.Errorf("database %s, want PostgreSQL: replicas share nothing but it", cfg.Database.Dialect)
		}
		// Trusted proxies are the ingress's and the gateway's pods, not the
		// cluster: any pod in a broad range could name any client address.
		for _, p := range cfg.TrustedProxies {
			if p.Addr().Is4() && p.Bits() < 24 || p.Addr().Is6() && p.Bits() < 64 {
				t.Errorf("TRUSTED_PROXIES has %s: name the ingress's and gateway's pods, not a range of the cluster", p)
			}
		}
		http := containerPort(t, c, FromString("http"))
		if int(http) != cfg.Port {
			t.Errorf("container port http = %d, but the service listens on PORT %d", http, cfg.Port)
		}
		for _, p := range []struct {
			name  string
			probe *Probe
			path  string
		}{
			{"liveness", c.LivenessProbe, "/healthz"},
			{"readiness", c.ReadinessProbe, "/readyz"},
		} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s probe is not an HTTP GET", p.name)
				continue
			}
			if got := p.probe.HTTPGet.Path; got != p.path {
				t.Errorf("%s probe path %q, want %q", p.name, got, p.path)
			}
			if got := containerPort(t, c, p.probe.HTTPGet.Port); int(got) != cfg.Port {
				t.Errorf("%s probe port %d, want PORT %d", p.name, got, cfg.Port)
			}
		}
		if a := d.Spec.Template.Annotations; a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != strconv.Itoa(cfg.Port) || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("pod annotations %v, want Prometheus to scrape /metrics on PORT %d", a, cfg.Port)
		}
		if c.LivenessProbe != nil && c.ReadinessProbe != nil && c.LivenessProbe.FailureThreshold*c.LivenessProbe.PeriodSeconds <= c.ReadinessProbe.FailureThreshold*c.ReadinessProbe.PeriodSeconds {
			t.Error("liveness gives up no later than readiness: a slow replica would be restarted before it is taken out")
		}
		// Graceful shutdown: the preStop sleep, then SHUTDOWN_TIMEOUT, within
		// the grace period.
		var sleep time.Duration
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
			sleep = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
		}
		if grace := pod.TerminationGracePeriodSeconds; grace == nil || time.Duration(*grace)*time.Second <= sleep+cfg.ShutdownTimeout {
			t.Errorf("terminationGracePeriodSeconds %v, want more than the preStop sleep %v plus SHUTDOWN_TIMEOUT %v", grace, sleep, cfg.ShutdownTimeout)
		}
		// The key files are files of a read-only mount of the Secret.
		if env["JWT_PRIVATE_KEY_FILE"] == "" {
			t.Error("JWT_PRIVATE_KEY_FILE is not set: production signs with the mounted key")
		}
		for name, file := range env {
			if !strings.HasSuffix(name, "_FILE") {
				continue
			}
			mounted := false
			for _, vm := range c.VolumeMounts {
				for _, v := range pod.Volumes {
					if v.Name != vm.Name || v.Secret == nil || v.Secret.SecretName != m.Secret.Name || !vm.ReadOnly {
						continue
					}
					for _, item := range v.Secret.Items {
						if _, ok := m.Secret.Data[item.Key]; ok && filepath.Join(vm.MountPath, item.Path) == file {
							mounted = true
						}
					}
				}
			}
			if !mounted {
				t.Errorf("%s %q is no file of a read-only mount of the Secret %s", name, file, m.Secret.Name)
			}
		}
		// The connection budget of docs/configuration.md: every replica
		// the HPA may run, a rollout's surge pod and a Job (the first
		// administrator's, a migration) each hold up to DATABASE_MAX_CONNS
		// connections, and a margin stays for psql and monitoring, within
		// PostgreSQL's default max_connections (100) less its
		// superuser_reserved_connections (3).
		const usable, margin, jobs = 100 - 3, 5, 1
		surge := 0
		if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
			surge = ru.MaxSurge.IntValue()
		}
		processes := int(m.HPA.Spec.MaxReplicas) + surge + jobs
		if conns := processes * cfg.Database.MaxConns; conns+margin > usable {
			t.Errorf("(%d replicas + %d surge + %d job) x DATABASE_MAX_CONNS %d = %d connections, want at most %d: PostgreSQL's default max_connections less the reserved and a margin of %d",
				m.HPA.Spec.MaxReplicas, surge, jobs, cfg.Database.MaxConns, conns, usable-margin, margin)
		}
	})

	t.Run("selectors", func(t *testing.T) {
		labels := d.Spec.Template.Labels
		selects := func(what string, sel map[string]string) {
			t.Helper()
			if len(sel) == 0 {
				t.Errorf("%s selects nothing in particular", what)
			}
			for k, v := range sel {
				if labels[k] != v {
					t.Errorf("%s selects %s=%s, which the pods lack (labels %v)", what, k, v, labels)
				}
			}
		}
		selects("Deployment", d.Spec.Selector.MatchLabels)
		selects("Service", m.Service.Spec.Selector)
		selects("PodDisruptionBudget", m.PDB.Spec.Selector.MatchLabels)
		selects("NetworkPolicy", m.NetworkPolicy.Spec.PodSelector.MatchLabels)
		for _, p := range m.Service.Spec.Ports {
			containerPort(t, c, p.TargetPort)
		}
		ref := m.HPA.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != d.Name {
			t.Errorf("HPA scales %+v, want Deployment %s", ref, d.Name)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
			t.Errorf("Deployment replicas %v, want 3", d.Spec.Replicas)
		}
		if min := m.HPA.Spec.MinReplicas; min == nil || *min != 3 || m.HPA.Spec.MaxReplicas < *min {
			t.Errorf("HPA replicas %v..%d, want 3 at least", min, m.HPA.Spec.MaxReplicas)
		}
		if u := m.PDB.Spec.MaxUnavailable; u == nil || u.IntValue() != 1 {
			t.Errorf("PDB maxUnavailable %v, want 1: two of three replicas stay through a drain", u)
		}
		// The NetworkPolicy lets the service's port in, and DNS and
		// PostgreSQL out.
		in := false
		for _, rule := range m.NetworkPolicy.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port != nil && containerPort(t, c, *p.Port) == containerPort(t, c, FromString("http")) {
					in = true
				}
			}
		}
		if !in {
			t.Error("the NetworkPolicy lets nothing in on the service's port")
		}
		// ... and only from pods it names: the ingress controller's and the
		// gateway's, never a whole namespace or the whole cluster.
		for _, rule := range m.NetworkPolicy.Spec.Ingress {
			if len(rule.From) == 0 {
				t.Error("a NetworkPolicy ingress rule admits every peer")
			}
			for _, peer := range rule.From {
				if peer.PodSelector == nil || len(peer.PodSelector.MatchLabels) == 0 || peer.IPBlock != nil {
					t.Errorf("NetworkPolicy peer %+v: want the ingress controller's or the gateway's pods by label", peer)
				}
			}
		}
		out := map[int32]bool{}
		for _, rule := range m.NetworkPolicy.Spec.Egress {
			for _, p := range rule.Ports {
				if p.Port != nil {
					out[p.Port.IntVal] = true
				}
			}
		}
		if !out[53] || !out[5432] || !out[587] || !out[465] {
			t.Errorf("the NetworkPolicy lets out ports %v, want DNS (53), PostgreSQL (5432) and the SMTP relay (587, 465)", out)
		}
		if !slices.Equal(m.NetworkPolicy.Spec.PolicyTypes, []string{"Ingress", "Egress"}) {
			t.Errorf("NetworkPolicy policyTypes %v, want Ingress and Egress", m.NetworkPolicy.Spec.PolicyTypes)
		}
	})

	t.Run("locked down", func(t *testing.T) {
		psc, sc := pod.SecurityContext, c.SecurityContext
		if psc == nil || sc == nil {
			t.Fatal("the pod and the container need a securityContext")
		}
		checks := []struct {
			what string
			ok   bool
		}{
			{"pod runAsNonRoot", psc.RunAsNonRoot != nil && *psc.RunAsNonRoot},
			{"pod runAsUser not 0", psc.RunAsUser != nil && *psc.RunAsUser != 0},
			{"pod seccompProfile RuntimeDefault", psc.SeccompProfile != nil && psc.SeccompProfile.Type == "RuntimeDefault"},
			{"readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
			{"allowPrivilegeEscalation false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
			{"capabilities drop ALL, add none", sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) && len(sc.Capabilities.Add) == 0},
			{"no privileged container", sc.Privileged == nil || !*sc.Privileged},
			{"no service account token", pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken},
			{"no host network, PID or IPC", !pod.HostNetwork && !pod.HostPID && !pod.HostIPC},
		}
		for _, c := range checks {
			if !c.ok {
				t.Errorf("want %s", c.what)
			}
		}
		for _, v := range pod.Volumes {
			if v.Secret == nil {
				t.Errorf("volume %s is not a Secret: the pod needs no writable storage", v.Name)
			}
		}
	})

	t.Run("resources", func(t *testing.T) {
		r := c.Resources
		for _, name := range []string{"cpu", "memory"} {
			req, lim := r.Requests[name], r.Limits[name]
			if req.IsZero() || lim.IsZero() {
				t.Errorf("%s: request %v, limit %v; want both", name, req.String(), lim.String())
				continue
			}
			if req.Cmp(lim) > 0 {
				t.Errorf("%s: request %v over limit %v", name, req.String(), lim.String())
			}
		}
		// The memory limit holds what a replica can hold at once (see Sizing
		// in k8s/README.md): the Go runtime's soft limit, the hash slots'
		// memory outside it, PASSWORD_HASH_CONCURRENCY of
		// PASSWORD_HASH_MEMORY, and the binary's mapped pages; and half
		// again over the peak measured under a login flood.
		cfg := load(t, m.Env(t))
		lim := r.Limits["memory"]
		if cfg.Memory.LimitMiB == 0 {
			t.Error("MEMORY_LIMIT_MIB=0: the runtime lets a flood's garbage double the heap")
		}
		need := int64(cfg.Memory.LimitMiB)<<20 + int64(cfg.PasswordHash.Concurrency)*int64(cfg.PasswordHash.Memory)<<10 + binaryPages
		if lim.Value() < need {
			t.Errorf("memory limit %v is under MEMORY_LIMIT_MIB %d Mi, the hashes' memory and the binary's pages: %d Mi", lim, cfg.Memory.LimitMiB, need>>20)
		}
		if lim.Value() < measuredFloodPeak*3/2 {
			t.Errorf("memory limit %v leaves less than half again over the measured flood peak %d Mi", lim, measuredFloodPeak>>20)
		}
	})
}

// measuredFloodPeak is the peak RSS of one replica under a flood of 500
// concurrent logins with the manifests' settings, rounded up
// (docs/performance.md, Memory).
const measuredFloodPeak = 100 << 20

// binaryPages is the resident memory of the binary's mapped pages, which
// no setting bounds, rounded up: 23 to 27 MiB measured.
const binaryPages = 32 << 20

// TestManifestsNeedSecrets checks that kustomize refuses to render without
// the secret files, so that a deployment never starts with empty secrets.
func TestManifestsNeedSecrets(t *testing.T) {
	if _, err := build(t, nil); err == nil {
		t.Error("kustomize rendered k8s/ without secrets/; want an error")
	}
}
