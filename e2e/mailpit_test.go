package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testdb"
)

// mailpitVersion is the mailpit the tests install when it is missing.
const mailpitVersion = "github.com/axllent/mailpit@v1.33.1"

// mailpitBinary finds mailpit, installing it with go install when it is
// missing. It skips the test when that fails outside CI, and fails it in
// CI (CI=true), so that CI never skips the mail tests silently.
func mailpitBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	bin := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "mailpit")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	out, err := exec.Command("go", "install", mailpitVersion).CombinedOutput()
	if err == nil {
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("mailpit is missing and go install %s failed: %v\n%s", mailpitVersion, err, out)
	}
	t.Skipf("mailpit is missing (go install %s: %v)", mailpitVersion, err)
	return ""
}

// mailpit is a mailpit server of a test's own, read through its REST API.
type mailpit struct {
	SMTPPort int
	API      string // http://127.0.0.1:PORT
	cmd      *exec.Cmd
	logs     *syncBuffer
}

// startMailpit runs mailpit on free loopback ports with args added, until
// the test ends.
func startMailpit(t *testing.T, args ...string) *mailpit {
	t.Helper()
	return startMailpitOn(t, freePort(t), args...)
}

// startMailpitOn is startMailpit with its SMTP server on smtpPort.
func startMailpitOn(t *testing.T, smtpPort int, args ...string) *mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	m := &mailpit{SMTPPort: smtpPort, logs: &syncBuffer{}}
	httpPort := freePort(t)
	m.API = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	all := append([]string{
		"--smtp", fmt.Sprintf("127.0.0.1:%d", m.SMTPPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--disable-version-check",
	}, args...)
	m.cmd = exec.Command(bin, all...)
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
	})
	apitest.Eventually(t, 15*time.Second, "mailpit answering", func() bool {
		resp, err := http.Get(m.API + "/api/v1/info")
		if err != nil {
			return false
		}
		resp.Body.Close()
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.SMTPPort))
		if err == nil {
			c.Close()
		}
		return resp.StatusCode == http.StatusOK && err == nil
	})
	return m
}

// mailpitMessage is a message as mailpit's API shows it.
type mailpitMessage struct {
	ID        string
	MessageID string
	Subject   string
	To        []struct{ Address string }
	Text      string
	HTML      string
}

// get decodes the JSON answer of a GET of path.
func (m *mailpit) get(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(m.API + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d: %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// to returns the messages delivered to addr, newest first, with bodies.
func (m *mailpit) to(t *testing.T, addr string) []mailpitMessage {
	t.Helper()
	var list struct{ Messages []mailpitMessage }
	m.get(t, "/api/v1/search?query="+url.QueryEscape(`to:"`+addr+`"`), &list)
	out := list.Messages[:0]
	for _, s := range list.Messages {
		var full mailpitMessage
		m.get(t, "/api/v1/message/"+s.ID, &full)
		out = append(out, full)
	}
	return out
}

// wait waits for a message to addr whose subject holds subject.
func (m *mailpit) wait(t *testing.T, addr, subject string) mailpitMessage {
	t.Helper()
	var found mailpitMessage
	apitest.Eventually(t, 20*time.Second, "a mail to "+addr+" about "+subject, func() bool {
		for _, msg := range m.to(t, addr) {
			if strings.Contains(msg.Subject, subject) {
				found = msg
				return true
			}
		}
		return false
	})
	return found
}

// headers returns the headers of message id.
func (m *mailpit) headers(t *testing.T, id string) map[string][]string {
	t.Helper()
	var h map[string][]string
	m.get(t, "/api/v1/message/"+id+"/headers", &h)
	return h
}

// chaos sets mailpit's chaos triggers (mailpit must run with
// --enable-chaos): {"Recipient": {"ErrorCode": 451, "Probability": 100}}.
func (m *mailpit) chaos(t *testing.T, triggers map[string]any) {
	t.Helper()
	b, _ := json.Marshal(triggers)
	req, _ := http.NewRequest(http.MethodPut, m.API+"/api/v1/chaos", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /api/v1/chaos = %d", resp.StatusCode)
	}
}

const (
	mailRequestResetDoc = `mutation($email: String!) { requestPasswordReset(email: $email) }`
	mailResetDoc        = `mutation($token: String!, $pw: String!) { resetPassword(input: {token: $token, newPassword: $pw}) }`
	mailVerifyDoc       = `mutation($token: String!) { verifyEmail(token: $token) }`
	mailChangeDoc       = `mutation($e: String!, $pw: String!) { requestEmailChange(input: {newEmail: $e, password: $pw}) }`
	mailConfirmDoc      = `mutation($token: String!) { confirmEmailChange(token: $token) }`
	mailMeDoc           = `{ me { email emailVerified pendingEmail } }`
	mailRegisterDoc     = `mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id } } }`
)

// linkToken is the token of the link to path in a mail's text.
func linkToken(t *testing.T, msg mailpitMessage, path string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(path) + `\?token=([A-Za-z0-9_-]{43})`).FindStringSubmatch(msg.Text)
	if m == nil {
		t.Fatalf("no %s link in %q", path, msg.Text)
	}
	return m[1]
}

// ok fails the test unless r has no errors.
func ok(t *testing.T, what string, r apitest.Response) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %s", what, r.Body)
	}
}

// mailEnv is the service's environment sending through m without TLS
// (loopback, no credentials).
func mailEnv(uri string, m *mailpit, overrides ...string) map[string]string {
	return apitest.Env(uri, append([]string{
		"SMTP_HOST", "127.0.0.1", "SMTP_PORT", fmt.Sprint(m.SMTPPort), "SMTP_TLS", "none",
		"SMTP_FROM", "Latchkey <no-reply@latchkey.test>", "APP_URL", "http://app.test/#",
	}, overrides...)...)
}

// TestMailFlowsMailpit runs every mail flow from the service to a
// delivered message and back through its link's token: verification,
// reset, email change, and the notices.
func TestMailFlowsMailpit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary and mailpit")
	}
	m := startMailpit(t)
	s := startService(t, mailEnv("sqlite://"+filepath.Join(t.TempDir(), "a.db"), m))
	email := apitest.UniqueEmail("flows")
	r := s.Post(t, "", mailRegisterDoc, map[string]any{"input": map[string]any{"email": email, "password": apitest.Password, "displayName": "<b>Ann</b>"}})
	ok(t, "register", r)
	var reg struct{ AccessToken string }
	r.Field(t, "register", &reg)

	verify := m.wait(t, email, "Confirm your email")
	if !regexp.MustCompile(`^[0-9a-f-]{36}@latchkey$`).MatchString(verify.MessageID) {
		t.Errorf("Message-ID = %q, want <OUTBOX-ID@latchkey>", verify.MessageID)
	}
	if h := m.headers(t, verify.ID); len(h["Auto-Submitted"]) == 0 || h["Auto-Submitted"][0] != "auto-generated" {
		t.Errorf("Auto-Submitted = %v, want auto-generated", h["Auto-Submitted"])
	}
	if strings.Contains(verify.HTML, "<b>Ann</b>") || !strings.Contains(verify.HTML, "&lt;b&gt;Ann&lt;/b&gt;") {
		t.Errorf("HTML body does not escape the display name: %s", verify.HTML)
	}
	if !strings.Contains(verify.Text, "http://app.test/#/verify-email?token=") {
		t.Errorf("text body has no APP_URL link: %s", verify.Text)
	}
	ok(t, "verifyEmail", s.Post(t, "", mailVerifyDoc, map[string]any{"token": linkToken(t, verify, "/verify-email")}))

	ok(t, "requestPasswordReset", s.Post(t, "", mailRequestResetDoc, map[string]any{"email": email}))
	reset := m.wait(t, email, "Reset your")
	const newPassword = "another passphrase 2026"
	ok(t, "resetPassword", s.Post(t, "", mailResetDoc, map[string]any{"token": linkToken(t, reset, "/reset-password"), "pw": newPassword}))
	m.wait(t, email, "password has changed")
	p := s.Login(t, email, newPassword)

	newEmail := apitest.UniqueEmail("moved")
	ok(t, "requestEmailChange", s.Post(t, p.AccessToken, mailChangeDoc, map[string]any{"e": newEmail, "pw": newPassword}))
	confirm := m.wait(t, newEmail, "Confirm your new email")
	notice := m.wait(t, email, "about to change")
	if strings.Contains(notice.Text, newEmail) {
		t.Errorf("the notice to the old address shows the new one unmasked: %s", notice.Text)
	}
	tok := linkToken(t, confirm, "/confirm-email")
	for i := range 2 { // idempotent
		ok(t, fmt.Sprintf("confirmEmailChange #%d", i+1), s.Post(t, "", mailConfirmDoc, map[string]any{"token": tok}))
	}
	m.wait(t, email, "email has changed")
	me := s.Post(t, p.AccessToken, mailMeDoc, nil)
	if !strings.Contains(string(me.Body), `"email":"`+newEmail+`"`) || !strings.Contains(string(me.Body), `"pendingEmail":null`) {
		t.Errorf("me after the change = %s, want email %s", me.Body, newEmail)
	}
	s.Login(t, newEmail, newPassword)

	// No mail to an address without an account, and no copy of it kept.
	nobody := apitest.UniqueEmail("nobody")
	ok(t, "requestPasswordReset(unknown)", s.Post(t, "", mailRequestResetDoc, map[string]any{"email": nobody}))
	time.Sleep(2 * time.Second)
	if got := m.to(t, nobody); len(got) != 0 {
		t.Errorf("mails to an address without an account: %d, want 0", len(got))
	}
}

// testCA makes a CA and a certificate for 127.0.0.1 signed by it, and
// writes the CA's PEM, the certificate's and its key's into dir.
func testCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "latchkey test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", leafDER), write("key.pem", "EC PRIVATE KEY", keyDER)
}

// TestMailTLSMailpit sends through STARTTLS and implicit TLS, the relay's
// certificate from a test CA given in SMTP_TLS_CA_FILE, with AUTH and a
// password that needs percent-encoding in SMTP_URL; without the CA the
// certificate is refused and nothing is delivered.
func TestMailTLSMailpit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary and mailpit")
	}
	dir := t.TempDir()
	caFile, certFile, keyFile := testCA(t, dir)
	const user, password = "relay-user", "p@ss:w/rd%?#"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	authFile := filepath.Join(dir, "auth")
	if err := os.WriteFile(authFile, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	userinfo := url.UserPassword(user, password).String()
	for _, tc := range []struct {
		name, scheme, flag string
		ca                 bool
		delivered          bool
	}{
		{"starttls", "smtp", "--smtp-require-starttls", true, true},
		{"implicit", "smtps", "--smtp-require-tls", true, true},
		{"untrusted", "smtp", "--smtp-require-starttls", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMailpit(t, "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile, tc.flag, "--smtp-auth-file", authFile)
			env := apitest.Env("sqlite://"+filepath.Join(t.TempDir(), "a.db"),
				"SMTP_URL", fmt.Sprintf("%s://%s@127.0.0.1:%d", tc.scheme, userinfo, m.SMTPPort),
				"SMTP_FROM", "no-reply@latchkey.test", "APP_URL", "http://app.test", "MAIL_RETRY_INTERVAL", "1s")
			if tc.ca {
				env["SMTP_TLS_CA_FILE"] = caFile
			}
			s := startService(t, env)
			email := apitest.UniqueEmail("tls-" + tc.name)
			s.Register(t, email)
			if tc.delivered {
				m.wait(t, email, "Confirm your email")
				// latchkey mail test: one synchronous send, the reply printed.
				to := apitest.UniqueEmail("mail-test")
				out, err := runCommand(t, env, "mail", "test", to)
				if err != nil || !strings.Contains(out, "sent to "+to) || !strings.Contains(out, "queued") {
					t.Errorf("latchkey mail test = %v, %q; want the relay's reply (mailpit's \"queued as\")", err, out)
				}
				m.wait(t, to, "test mail")
			} else {
				apitest.Eventually(t, 20*time.Second, "a refused certificate logged", func() bool {
					return strings.Contains(s.logs.String(), "mail not sent, retrying") &&
						strings.Contains(s.logs.String(), "certificate")
				})
				if got := m.to(t, email); len(got) != 0 {
					t.Errorf("delivered through an untrusted certificate: %d mails", len(got))
				}
			}
			if strings.Contains(s.logs.String(), "w/rd") || strings.Contains(s.logs.String(), url.QueryEscape(password)) {
				t.Error("the SMTP password appears in the service's log")
			}
		})
	}
}

// TestMailChaosMailpit: a 4xx from the relay is retried until it passes,
// the mail delivered once; a 5xx to RCPT fails the mail.
func TestMailChaosMailpit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary and mailpit")
	}
	m := startMailpit(t, "--enable-chaos")
	s := startService(t, mailEnv("sqlite://"+filepath.Join(t.TempDir(), "a.db"), m, "MAIL_RETRY_INTERVAL", "1s"))

	m.chaos(t, map[string]any{"Recipient": map[string]any{"ErrorCode": 451, "Probability": 100}})
	email := apitest.UniqueEmail("greylisted")
	s.Register(t, email)
	apitest.Eventually(t, 20*time.Second, "a 451 retried", func() bool {
		return strings.Contains(s.logs.String(), "mail not sent, retrying")
	})
	m.chaos(t, map[string]any{"Recipient": map[string]any{"ErrorCode": 451, "Probability": 0}})
	m.wait(t, email, "Confirm your email")
	time.Sleep(3 * time.Second)
	if got := m.to(t, email); len(got) != 1 {
		t.Errorf("mails after the 4xx passed: %d, want exactly 1", len(got))
	}

	m.chaos(t, map[string]any{"Recipient": map[string]any{"ErrorCode": 550, "Probability": 100}})
	refused := apitest.UniqueEmail("refused")
	s.Register(t, refused)
	apitest.Eventually(t, 20*time.Second, "a 550 failing the mail", func() bool {
		return strings.Contains(s.logs.String(), "mail refused")
	})
	metrics := apitest.ReadAll(t, mustGet(t, s.URL+"/metrics"))
	for _, want := range []string{`latchkey_mail_total{kind="verify_email",outcome="retried"}`, `latchkey_mail_total{kind="verify_email",outcome="failed"} 1`, `latchkey_mail_total{kind="verify_email",outcome="sent"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// mustGet GETs url.
func mustGet(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec // the test's own server
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// all returns every message mailpit holds, without bodies.
func (m *mailpit) all(t *testing.T) []mailpitMessage {
	t.Helper()
	var list struct{ Messages []mailpitMessage }
	m.get(t, "/api/v1/messages?limit=1000", &list)
	return list.Messages
}

// exactlyOnce checks that each address in want got count mails, and that
// no Message-ID came twice.
func exactlyOnce(t *testing.T, m *mailpit, want map[string]int) {
	t.Helper()
	total := 0
	for _, n := range want {
		total += n
	}
	apitest.Eventually(t, 60*time.Second, fmt.Sprintf("%d mails delivered", total), func() bool {
		return len(m.all(t)) >= total
	})
	time.Sleep(2 * time.Second) // a duplicate would come now
	msgs := m.all(t)
	seen := map[string]bool{}
	got := map[string]int{}
	for _, msg := range msgs {
		if seen[msg.MessageID] {
			t.Errorf("Message-ID %s delivered twice", msg.MessageID)
		}
		seen[msg.MessageID] = true
		for _, to := range msg.To {
			got[to.Address]++
		}
	}
	for addr, n := range want {
		if got[addr] != n {
			t.Errorf("%s got %d mails, want %d", addr, got[addr], n)
		}
	}
	if len(msgs) != total {
		t.Errorf("%d mails delivered, want %d", len(msgs), total)
	}
}

// TestMailOutage: the relay is down while users register and ask for
// resets, and the service restarts meanwhile; no request fails, and once
// the relay is back every mail arrives exactly once.
func TestMailOutage(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary and mailpit")
	}
	port := freePort(t) // nothing listens there yet
	// Retries doubling from 250ms, and the mails the stopped process had
	// claimed leased for 3 × SMTP_TIMEOUT: the relay, back after a few
	// seconds, gets every mail within a few more.
	env := apitest.Env("sqlite://"+filepath.Join(t.TempDir(), "a.db"),
		"SMTP_HOST", "127.0.0.1", "SMTP_PORT", fmt.Sprint(port), "SMTP_TLS", "none", "SMTP_TIMEOUT", "2s",
		"SMTP_FROM", "no-reply@latchkey.test", "APP_URL", "http://app.test", "MAIL_RETRY_INTERVAL", "250ms")
	s := startService(t, env)
	want := map[string]int{}
	for i := range 5 {
		email := apitest.UniqueEmail(fmt.Sprint("outage", i))
		s.Register(t, email)
		ok(t, "requestPasswordReset during the outage", s.Post(t, "", mailRequestResetDoc, map[string]any{"email": email}))
		want[email] = 2 // verification and reset
	}
	apitest.Eventually(t, 20*time.Second, "a failed send retried", func() bool {
		return strings.Contains(s.logs.String(), "mail not sent, retrying")
	})
	if code, _, err := apitest.GetStatus(http.DefaultClient, s.URL+"/readyz"); err != nil || code != http.StatusOK {
		t.Errorf("/readyz during the SMTP outage = %d, %v; want 200", code, err)
	}
	s.stop(t)
	s = startService(t, env)
	email := apitest.UniqueEmail("after-restart")
	s.Register(t, email)
	want[email] = 1
	m := startMailpitOn(t, port)
	exactlyOnce(t, m, want)
}

// TestMailReplicas: three replicas on one PostgreSQL send a burst of mails
// together; none is sent twice (by Message-ID) and none is lost.
func TestMailReplicas(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary and mailpit")
	}
	m := startMailpit(t)
	env := mailEnv(testdb.Postgres(t), m, "RATE_LIMIT_REGISTER", "0", "RATE_LIMIT_MAIL", "0")
	replicas := []*service{startService(t, env), startService(t, env), startService(t, env)}
	const users = 30
	want := map[string]int{}
	errs := make(chan error, users)
	for i := range users {
		email := apitest.UniqueEmail(fmt.Sprint("replica", i))
		want[email] = 2
		go func() {
			s := replicas[i%len(replicas)]
			if _, _, err := apitest.Call(http.DefaultClient, s.URL, "", mailRegisterDoc,
				map[string]any{"input": map[string]any{"email": email, "password": apitest.Password}}); err != nil {
				errs <- err
				return
			}
			_, _, err := apitest.Call(http.DefaultClient, replicas[(i+1)%len(replicas)].URL, "", mailRequestResetDoc, map[string]any{"email": email})
			errs <- err
		}()
	}
	for range users {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	exactlyOnce(t, m, want)
	sent := 0
	for _, r := range replicas {
		if strings.Contains(r.logs.String(), `"msg":"mail sent"`) {
			sent++
		}
	}
	t.Logf("%d of %d replicas sent mail", sent, len(replicas))
}
