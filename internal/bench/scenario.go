package bench

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The operations the scenarios send, as a web app sends them.
const (
	meQuery       = `query Me { me { id email } }`
	loginQuery    = `mutation Login($email: String!, $password: String!) { login(input: {email: $email, password: $password}) { accessToken refreshToken } }`
	refreshQuery  = `mutation Refresh($token: String!) { refreshToken(input: {refreshToken: $token}) { accessToken refreshToken } }`
	registerQuery = `mutation Register($email: String!, $password: String!) { register(input: {email: $email, password: $password}) { accessToken refreshToken } }`
)

// mixedSchedule is the mixed scenario's round of 20 requests: what a
// population of signed-in web clients sends, mostly reads, a refresh per
// expired access token, now and then a login or a new account. The
// workers start the round at points spread over it, so that the
// operations interleave.
var mixedSchedule = []string{
	"me", "me", "refresh", "me", "me", "login", "me", "refresh", "me", "me",
	"me", "me", "refresh", "me", "register", "me", "me", "refresh", "me", "me",
}

// pair is the tokens of an AuthPayload.
type pair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

// Load is a prepared scenario: its users exist and each worker holds what
// its requests need. Step is safe for concurrent use by distinct workers.
type Load struct {
	c        *Client
	scenario string
	// runID makes this run's emails unique.
	runID    string
	email    string
	password string
	meBody   []byte
	workers  []workerState
}

// workerState is one worker's own session and counter; only that worker
// touches it.
type workerState struct {
	access, refresh string
	n               int
}

// Prepare readies scenario for workers clients of c: it registers the user
// the scenario logs in as and, for refresh and mixed, gives each worker a
// session of its own. For me, token is used as the access token when not
// empty.
func Prepare(ctx context.Context, c *Client, scenario string, workers int, token string) (*Load, error) {
	return prepare(ctx, c, scenario, workers, token, "", "")
}

// prepare is Prepare, logging in as the existing user with email and
// password instead of registering one when email is not empty.
func prepare(ctx context.Context, c *Client, scenario string, workers int, token, email, password string) (*Load, error) {
	scenario = normalize(scenario)
	if !slices.Contains(Scenarios, scenario) {
		return nil, fmt.Errorf("unknown scenario %q (want one of %s)", scenario, strings.Join(Scenarios, ", "))
	}
	l := &Load{
		c:        c,
		scenario: scenario,
		runID:    strings.ToLower(rand.Text()[:10]),
		password: "bench " + rand.Text(),
		workers:  make([]workerState, workers),
	}
	l.email = "bench-" + l.runID + "@example.com"
	body, err := json.Marshal(gqlRequest{Query: meQuery})
	if err != nil {
		return nil, err
	}
	l.meBody = body

	switch scenario {
	case "register":
		return l, nil
	case "me":
		if token != "" {
			for i := range l.workers {
				l.workers[i].access = token
			}
			return l, nil
		}
	}
	var p pair
	if email != "" {
		l.email, l.password = email, password
		if err := c.Do(ctx, "", loginQuery, map[string]any{"email": l.email, "password": l.password}, "login", &p); err != nil {
			return nil, fmt.Errorf("logging in as the %s scenario's user: %w", scenario, err)
		}
	} else if err := c.Do(ctx, "", registerQuery, map[string]any{"email": l.email, "password": l.password}, "register", &p); err != nil {
		return nil, fmt.Errorf("registering the %s scenario's user: %w", scenario, err)
	}
	for i := range l.workers {
		l.workers[i] = workerState{access: p.AccessToken, refresh: p.RefreshToken}
	}
	if scenario == "refresh" || scenario == "mixed" {
		// Each worker rotates its own session's refresh token.
		for i := range l.workers {
			if err := l.login(ctx, &l.workers[i]); err != nil {
				return nil, fmt.Errorf("starting a session for client %d: %w", i, err)
			}
		}
	}
	return l, nil
}

// Step sends worker's next request and returns its operation's name and
// error.
func (l *Load) Step(ctx context.Context, worker int) (string, error) {
	w := &l.workers[worker]
	op := l.scenario
	if op == "mixed" {
		start := worker * len(mixedSchedule) / len(l.workers)
		op = mixedSchedule[(start+w.n)%len(mixedSchedule)]
	}
	w.n++
	switch op {
	case "me":
		return op, l.c.post(ctx, w.access, l.meBody, "me", nil)
	case "login":
		return op, l.c.Do(ctx, "", loginQuery, map[string]any{"email": l.email, "password": l.password}, "login", nil)
	case "refresh":
		var p pair
		err := l.c.Do(ctx, "", refreshQuery, map[string]any{"token": w.refresh}, "refreshToken", &p)
		if err == nil {
			w.access, w.refresh = p.AccessToken, p.RefreshToken
		} else if ctx.Err() == nil {
			// The chain is broken (the error is counted): start another,
			// so that one failure does not fail every later refresh.
			_ = l.login(ctx, w)
		}
		return op, err
	default: // register
		email := "bench-" + l.runID + "-" + strconv.Itoa(worker) + "-" + strconv.Itoa(w.n) + "@example.com"
		return op, l.c.Do(ctx, "", registerQuery, map[string]any{"email": email, "password": l.password}, "register", nil)
	}
}

// login starts a new session of the scenario's user for w.
func (l *Load) login(ctx context.Context, w *workerState) error {
	var p pair
	if err := l.c.Do(ctx, "", loginQuery, map[string]any{"email": l.email, "password": l.password}, "login", &p); err != nil {
		return err
	}
	w.access, w.refresh = p.AccessToken, p.RefreshToken
	return nil
}
