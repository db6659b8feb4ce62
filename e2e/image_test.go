package e2e

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testdb"
	"github.com/latchkey/latchkey/k8s"
)

// nonroot is the user and group the image runs as: distroless's nonroot,
// and the Deployment's runAsUser and fsGroup.
const nonroot = 65532

// dockerfile is the Dockerfile's instructions that the test checks, one
// line each with continuations joined.
type dockerfile struct {
	froms      []string // each stage's base image
	user       string   // the last USER
	entrypoint string   // the last ENTRYPOINT
	finalRuns  int      // RUN instructions in the last stage
	build      []string // the RUN line that runs go build, split into words
}

// readDockerfile reads the Dockerfile at path.
func readDockerfile(path string) (dockerfile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return dockerfile{}, err
	}
	var df dockerfile
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, args, _ := strings.Cut(line, " ")
		args = strings.TrimSpace(args)
		switch strings.ToUpper(instr) {
		case "FROM":
			df.froms = append(df.froms, strings.Fields(args)[0])
			df.finalRuns = 0
		case "USER":
			df.user = args
		case "ENTRYPOINT":
			df.entrypoint = args
		case "RUN":
			df.finalRuns++
			if !strings.Contains(" "+args+" ", " go build ") {
				continue
			}
			if df.build, err = shellWords(args); err != nil {
				return df, err
			}
		}
	}
	return df, nil
}

// shellWords splits a simple shell command line into words: spaces
// separate, double quotes group. Anything else a shell would interpret
// is an error, so that the tests' build is exactly the Dockerfile's.
func shellWords(s string) ([]string, error) {
	if strings.ContainsAny(s, "'`$\\;&|<>()") {
		return nil, fmt.Errorf("RUN %s: too much shell for the tests to repeat exactly; keep the go build line plain", s)
	}
	var (
		words  []string
		word   strings.Builder
		quoted bool
		inWord bool
	)
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// TestDockerfile checks the image's shape: a build stage, a distroless
// static (or scratch) base, a non-root user, an exec-form entrypoint, and no
// RUN in the final stage, which has no shell to run one.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	df, err := readDockerfile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(df.froms) < 2 {
		t.Fatalf("%d stages, want a build stage and a run stage", len(df.froms))
	}
	base := df.froms[len(df.froms)-1]
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("final base %q, want gcr.io/distroless/static or scratch", base)
	}
	if df.user != fmt.Sprintf("%d:%d", nonroot, nonroot) {
		t.Errorf("USER %q, want %d:%d, numeric so that runAsNonRoot can check it", df.user, nonroot, nonroot)
	}
	var entry []string
	if err := json.Unmarshal([]byte(df.entrypoint), &entry); err != nil || len(entry) == 0 {
		t.Errorf("ENTRYPOINT %s, want the exec form: the image has no shell", df.entrypoint)
	}
	if df.finalRuns != 0 {
		t.Errorf("the final stage has %d RUN instructions; it has no shell to run them", df.finalRuns)
	}
	if len(df.build) == 0 || df.build[0] != "CGO_ENABLED=0" {
		t.Errorf("go build line %q, want it to start with CGO_ENABLED=0", df.build)
	}
}

// TestImageBinary runs the binary as the image and the Deployment would: as
// user 65532 with no capabilities, on a read-only root filesystem, with the
// manifests' environment and the keys mounted as Secret files, against
// PostgreSQL. The probes' paths answer on the service's port, a register
// and a me go through, and SIGTERM ends it cleanly. Without the race
// detector the binary is the one the Dockerfile builds, and the test also
// checks that it is static and that a login flood is served within the
// pod's memory limit; under -race (whose runtime needs cgo and several
// times the memory) those two checks are left to the run without it,
// which CI makes. The image itself is not built: there is
// no container engine here.
func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := binary

	if !raceDetector {
		checkStatic(t, bin)
	}

	if os.Getuid() != 0 {
		t.Skip("running as another user on a read-only root needs root (CI runs as root)")
	}
	for _, tool := range []string{"unshare", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s (util-linux) is needed: %v", tool, err)
		}
	}
	pod := k8s.Shipped(t)
	secrets := k8s.FakeSecrets(t)
	env := maps.Clone(pod.Env)
	for name, key := range pod.SecretEnv {
		env[name] = string(secrets[key])
	}
	env["DATABASE_URI"] = testdb.Postgres(t)
	env["PORT"] = "0"
	// A relay on loopback that refuses: the mail the test's registrations
	// queue stays queued, and nothing leaves the machine.
	env["SMTP_URL"] = "smtp://latchkey:p%40ss@127.0.0.1:1"

	// Each read-only Secret mount becomes a folder of the test, owned as
	// fsGroup and defaultMode make it in the pod.
	for mountPath, files := range pod.Mounts {
		mountDir := filepath.Join(dir, "mounts", mountPath)
		if err := os.MkdirAll(mountDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, key := range files {
			file := filepath.Join(mountDir, name)
			if err := os.WriteFile(file, secrets[key], 0o440); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(file, 0, nonroot); err != nil {
				t.Fatal(err)
			}
		}
		for k, v := range env {
			if rest, ok := strings.CutPrefix(v, mountPath+"/"); ok {
				env[k] = filepath.Join(mountDir, rest)
			}
		}
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// A private mount namespace whose root is remounted read-only, then the
	// binary as nonroot without capabilities. The shell runs before the
	// service, in the test's place of the container runtime.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", `mount -o remount,bind,ro / && exec setpriv --reuid=`+strconv.Itoa(nonroot)+` --regid=`+strconv.Itoa(nonroot)+
			` --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all "$0"`, bin)
	cmd.Dir = "/"
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr, logs syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stdout, &logs))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		exited <- cmd.Wait()
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://127.0.0.1:" + a[strings.LastIndex(a, ":")+1:]
	case err := <-exited:
		exited <- err
		t.Fatalf("the service exited with %v before listening:\n%s%s", err, stderr.String(), logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("the service did not listen:\n%s%s", stderr.String(), logs.String())
	}

	pid := cmd.Process.Pid
	status := procStatus(t, pid)
	if status["Uid"] != strings.Repeat(strconv.Itoa(nonroot)+"\t", 3)+strconv.Itoa(nonroot) {
		t.Errorf("the service runs with Uid %q, want %d throughout", status["Uid"], nonroot)
	}
	if status["CapEff"] != "0000000000000000" || status["CapBnd"] != "0000000000000000" {
		t.Errorf("the service has capabilities: CapEff %s, CapBnd %s", status["CapEff"], status["CapBnd"])
	}
	if !rootReadOnly(t, pid) {
		t.Error("the service's root filesystem is writable")
	}

	// The probes, as the kubelet sends them, until readiness passes.
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) int {
		resp, err := client.Get(base + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(pod.LivenessPath); got != http.StatusOK {
		t.Errorf("liveness probe GET %s = %d, want 200", pod.LivenessPath, got)
	}
	deadline := time.Now().Add(60 * time.Second)
	for get(pod.ReadinessPath) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("readiness probe GET %s never answered 200:\n%s%s", pod.ReadinessPath, stderr.String(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	idle := procStatus(t, pid)
	t.Logf("idle and ready: RSS %s, peak %s", idle["VmRSS"], idle["VmHWM"])

	email := fmt.Sprintf("k8s-%d@example.com", time.Now().UnixNano())
	var reg struct {
		Data struct {
			Register struct{ AccessToken string }
		}
	}
	postGraphQL(t, client, base, "", `mutation($e: String!) { register(input: {email: $e, password: "correct horse battery staple"}) { accessToken } }`,
		map[string]any{"e": email}, &reg)
	var me struct {
		Data struct{ Me struct{ Email string } }
	}
	postGraphQL(t, client, base, reg.Data.Register.AccessToken, `{ me { email } }`, nil, &me)
	if me.Data.Me.Email != email {
		t.Errorf("me = %q, want %q", me.Data.Me.Email, email)
	}
	// The JWKS publishes the mounted keys: the signing key, whose kid the
	// access token names, and the previous public key.
	var jwks struct {
		Keys []struct{ Kid string }
	}
	resp, err := client.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(reg.Data.Register.AccessToken, ".")
	rawHeader, _ := base64.RawURLEncoding.DecodeString(header)
	var tokenHeader struct{ Kid string }
	_ = json.Unmarshal(rawHeader, &tokenHeader)
	kids := make([]string, len(jwks.Keys))
	for i, k := range jwks.Keys {
		kids[i] = k.Kid
	}
	if len(kids) != 2 || tokenHeader.Kid == "" || !slices.Contains(kids, tokenHeader.Kid) {
		t.Errorf("JWKS kids %v, token kid %q: want the mounted signing key's and the previous public key's, the token signed by one of them", kids, tokenHeader.Kid)
	}
	if get(pod.MetricsPath) != http.StatusOK {
		t.Errorf("GET %s, where the pod says Prometheus scrapes, is not 200", pod.MetricsPath)
	}
	if got := get("/"); got != http.StatusNotFound {
		t.Errorf("GET / = %d, want 404: the manifests' production mode has no playground", got)
	}

	if !raceDetector {
		// Under -race TestLoginFlood floods the service; here the flood
		// is for the pod's memory limit, which the race runtime's memory
		// would not tell.
		floodUnderLimit(t, base, email, pid, pod.MemoryLimit)
	}

	// SIGTERM, as the kubelet stops the pod: a clean exit.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("after SIGTERM the service exited with %v, want 0:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Error("the service did not stop on SIGTERM")
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("the service logged errors:\n%s", logs.String())
	}
}

// floodUnderLimit sends floodLogins logins at once for email, with the
// manifests' settings (production hashing, PASSWORD_HASH_CONCURRENCY), and
// checks that some succeed and that the service's peak memory stays under
// the pod's limit. Right passwords only, so that no failure throttle cuts
// the flood short: each login hashes, or is shed when it would wait too
// long.
func floodUnderLimit(t *testing.T, base, email string, pid int, limit int64) {
	t.Helper()
	floodClient := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: floodLogins}}
	defer floodClient.CloseIdleConnections()
	var (
		wg              sync.WaitGroup
		ok, shed, other atomic.Int32
		start           = make(chan struct{})
	)
	for range floodLogins {
		wg.Go(func() {
			<-start
			code, err := loginCode(floodClient, base, email)
			switch {
			case err == nil && code == "":
				ok.Add(1)
			case err == nil && code == "RATE_LIMITED":
				shed.Add(1)
			default:
				other.Add(1)
				t.Errorf("login in the flood: code %q, %v", code, err)
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	peak := procStatus(t, pid)["VmHWM"]
	kb, err := strconv.ParseInt(strings.TrimSuffix(peak, " kB"), 10, 64)
	if err != nil {
		t.Fatalf("VmHWM %q: %v", peak, err)
	}
	t.Logf("%d concurrent logins in %v: %d succeeded, %d shed; peak RSS %.1f MiB, memory limit %d MiB",
		floodLogins, time.Since(began).Round(time.Millisecond), ok.Load(), shed.Load(), float64(kb)/1024, limit>>20)
	if kb<<10 >= limit {
		t.Errorf("peak RSS %d MiB under the flood reaches the memory limit %d MiB: the pod would be killed", kb>>10, limit>>20)
	}
	if ok.Load() == 0 {
		t.Error("no login of the flood succeeded")
	}
}

// checkStatic checks that bin has no dynamic loader and needs no shared
// libraries, so that it runs on distroless static or scratch.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader; it must be static")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v); it must be static", libs, err)
	}
}

// syncBuffer is a bytes.Buffer that one goroutine may write while another
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// floodLogins is how many logins TestImageBinary sends at once.
const floodLogins = 500

// loginCode logs in with the test password and returns the error code of
// the answer, "" for a success.
func loginCode(client *http.Client, base, email string) (string, error) {
	body, err := json.Marshal(map[string]any{
		"query":     `mutation($e: String!) { login(input: {email: $e, password: "correct horse battery staple"}) { accessToken } }`,
		"variables": map[string]any{"e": email},
	})
	if err != nil {
		return "", err
	}
	resp, err := client.Post(base+"/query", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Errors []struct {
			Extensions struct{ Code string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if len(out.Errors) > 0 {
		return out.Errors[0].Extensions.Code, nil
	}
	return "", nil
}

// procStatus is /proc/PID/status as a map.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

// rootReadOnly reports whether / is mounted read-only for process pid.
func rootReadOnly(t *testing.T, pid int) bool {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		// id parent major:minor root mountpoint options ...
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			return strings.HasPrefix(f[5], "ro,") || f[5] == "ro"
		}
	}
	return false
}

// postGraphQL posts a GraphQL operation and decodes the response into out,
// failing the test on any error in it.
func postGraphQL(t *testing.T, client *http.Client, base, bearer, query string, vars map[string]any, out any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/query", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var errs struct{ Errors []json.RawMessage }
	if err := json.Unmarshal(raw, &errs); err != nil || len(errs.Errors) > 0 || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d %s", query, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
}
