package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunSpreadsOverReplicas runs me against three fake replicas given as
// one comma-separated URL: each gets its third of the requests, give or
// take the one in flight per client.
func TestRunSpreadsOverReplicas(t *testing.T) {
	var counts [3]atomic.Int64
	var urls []string
	for i := range counts {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			counts[i].Add(1)
			fmt.Fprint(w, `{"data":{"me":{"id":"1","email":"a@example.com"}}}`)
		}))
		t.Cleanup(s.Close)
		urls = append(urls, s.URL)
	}
	res, err := Run(t.Context(), Options{URL: strings.Join(urls, ", "), Scenario: "me", Concurrency: 4,
		Duration: 300 * time.Millisecond, Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Requests == 0 {
		t.Fatalf("Run = %d requests, %d errors; want some, none failed", res.Requests, res.Errors)
	}
	total := counts[0].Load() + counts[1].Load() + counts[2].Load()
	for i := range counts {
		if n := counts[i].Load(); n < total/3-4 || n > total/3+4 {
			t.Errorf("replica %d got %d of %d requests, want a third", i, n, total)
		}
	}
	if want := 3; strings.Count(res.Target, ",") != want-1 {
		t.Errorf("Target = %q, want the %d endpoints", res.Target, want)
	}
}

func TestEndpoints(t *testing.T) {
	got, err := Endpoints("http://a:1, http://b:2/graphql")
	if err != nil || len(got) != 2 || got[0] != "http://a:1/query" || got[1] != "http://b:2/graphql" {
		t.Errorf(`Endpoints("http://a:1, http://b:2/graphql") = %q, %v; want [http://a:1/query http://b:2/graphql]`, got, err)
	}
	if _, err := Endpoints("http://a:1,"); err == nil {
		t.Error(`Endpoints("http://a:1,") = nil error, want one for the empty URL`)
	}
}
